# An IAM role that exactly one Kubernetes service account may assume
# through the cluster's OIDC provider (IAM roles for service accounts):
# the trust policy pins both the audience and the subject
# system:serviceaccount:<namespace>:<service_account>.

variable "name" {
  description = "Role name."
  type        = string
}

variable "oidc_issuer" {
  description = "OIDC issuer host and path of the cluster (without https://)."
  type        = string
}

variable "oidc_arn" {
  description = "ARN of the cluster's IAM OIDC provider."
  type        = string
}

variable "namespace" {
  description = "Namespace of the service account."
  type        = string
}

variable "service_account" {
  description = "Name of the service account."
  type        = string
}

variable "policy_arns" {
  description = "Managed policies attached to the role."
  type        = list(string)
  default     = []
}

variable "inline_policy" {
  description = "JSON policy document attached inline (empty: none)."
  type        = string
  default     = ""
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_role_policy_attachment" "this" {
  count      = length(var.policy_arns)
  role       = aws_iam_role.this.name
  policy_arn = var.policy_arns[count.index]
}

resource "aws_iam_role_policy" "inline" {
  count  = var.inline_policy == "" ? 0 : 1
  name   = "inline"
  role   = aws_iam_role.this.id
  policy = var.inline_policy
}

output "role_arn" {
  description = "ARN of the role, for the eks.amazonaws.com/role-arn annotation."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}
