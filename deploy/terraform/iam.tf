# IAM roles for the project's service accounts, each allowed only what its
# job needs (least privilege):
#   fraud-server  (namespace var.fraud_namespace): read the model repository
#   fraud-trainer (same namespace): read data, write new model versions
#   prometheus    (namespace monitoring): write long-term metrics blocks
# KServe's storage initializer runs in the server's pod with the server's
# service account, so it gets the same read-only access.

data "aws_iam_policy_document" "server" {
  statement {
    sid       = "ListModels"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this["models"].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["repository/*", "repository/"]
    }
  }
  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.this["models"].arn}/repository/*"]
  }
  statement {
    sid       = "DecryptModels"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.s3.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

module "server_irsa" {
  source          = "./modules/irsa"
  name            = "${local.name}-server"
  oidc_issuer     = local.oidc_issuer
  oidc_arn        = aws_iam_openid_connect_provider.eks.arn
  namespace       = var.fraud_namespace
  service_account = "fraud-server"
  inline_policy   = data.aws_iam_policy_document.server.json
}

data "aws_iam_policy_document" "trainer" {
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this["data"].arn, aws_s3_bucket.this["models"].arn]
  }
  statement {
    sid       = "ReadData"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["data"].arn}/*"]
  }
  # New versions only: a trainer can add a model version but cannot
  # delete one (versions are immutable; rollbacks need the old ones).
  statement {
    sid       = "WriteModels"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.this["models"].arn}/repository/*"]
  }
  statement {
    sid       = "Encrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.s3.arn]
  }
}

module "trainer_irsa" {
  source          = "./modules/irsa"
  name            = "${local.name}-trainer"
  oidc_issuer     = local.oidc_issuer
  oidc_arn        = aws_iam_openid_connect_provider.eks.arn
  namespace       = var.fraud_namespace
  service_account = "fraud-trainer"
  inline_policy   = data.aws_iam_policy_document.trainer.json
}

data "aws_iam_policy_document" "prometheus" {
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this["metrics"].arn]
  }
  statement {
    sid       = "Blocks"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this["metrics"].arn}/prometheus/*"]
  }
  statement {
    sid       = "Encrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.s3.arn]
  }
}

module "prometheus_irsa" {
  source          = "./modules/irsa"
  name            = "${local.name}-prometheus"
  oidc_issuer     = local.oidc_issuer
  oidc_arn        = aws_iam_openid_connect_provider.eks.arn
  namespace       = "monitoring"
  service_account = "prometheus"
  inline_policy   = data.aws_iam_policy_document.prometheus.json
}

# VPC flow logs write to their CloudWatch log group only.
resource "aws_iam_role" "flow_logs" {
  name = "${local.name}-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "flow_logs" {
  name = "write-flow-logs"
  role = aws_iam_role.flow_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow.arn}:*"
    }]
  })
}
