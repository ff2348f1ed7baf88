# CloudWatch: log groups (EKS control plane, server logs shipped by the
# cluster's log agent, Redis slow log, VPC flow logs) and alarms on what
# Prometheus cannot see from inside the cluster: Redis health, the node
# interruption queue, NAT port exhaustion.  Alarms go to one SNS topic.

resource "aws_cloudwatch_log_group" "eks" {
  # EKS writes control-plane logs to this exact name.
  name              = "/aws/eks/${local.name}/cluster"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "server" {
  name              = "/${var.project}/${var.environment}/server"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "redis" {
  name              = "/${var.project}/${var.environment}/redis-slow-log"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/${var.project}/${var.environment}/vpc-flow-rejects"
  retention_in_days = var.log_retention_days
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  redis_primary = "${aws_elasticache_replication_group.redis.id}-001"

  # name => metric, namespace, dimensions, statistic, comparison, threshold,
  # periods, description
  alarms = {
    redis-cpu = {
      metric      = "EngineCPUUtilization", namespace = "AWS/ElastiCache"
      dimensions  = { CacheClusterId = local.redis_primary }
      statistic   = "Average", comparison = "GreaterThanThreshold", threshold = 80, periods = 3
      description = "Redis engine CPU above 80 %: state lookups will slow scoring."
    }
    redis-memory = {
      metric      = "DatabaseMemoryUsagePercentage", namespace = "AWS/ElastiCache"
      dimensions  = { CacheClusterId = local.redis_primary }
      statistic   = "Average", comparison = "GreaterThanThreshold", threshold = 85, periods = 3
      description = "Redis memory above 85 %: LRU evictions of feature state are near."
    }
    redis-evictions = {
      metric      = "Evictions", namespace = "AWS/ElastiCache"
      dimensions  = { CacheClusterId = local.redis_primary }
      statistic   = "Sum", comparison = "GreaterThanThreshold", threshold = 0, periods = 3
      description = "Redis evicts keys: windowed features lose history (raise redis_node_type)."
    }
    redis-replication-lag = {
      metric      = "ReplicationLag", namespace = "AWS/ElastiCache"
      dimensions  = { CacheClusterId = "${aws_elasticache_replication_group.redis.id}-002" }
      statistic   = "Maximum", comparison = "GreaterThanThreshold", threshold = 5, periods = 3
      description = "Redis replica more than 5 s behind: a failover would lose recent state."
    }
    karpenter-queue-age = {
      metric      = "ApproximateAgeOfOldestMessage", namespace = "AWS/SQS"
      dimensions  = { QueueName = aws_sqs_queue.karpenter.name }
      statistic   = "Maximum", comparison = "GreaterThanThreshold", threshold = 60, periods = 2
      description = "Karpenter is not consuming spot interruption events: nodes may vanish without draining."
    }
    nat-port-allocation = {
      metric      = "ErrorPortAllocation", namespace = "AWS/NATGateway"
      dimensions  = { NatGatewayId = aws_nat_gateway.this[0].id }
      statistic   = "Sum", comparison = "GreaterThanThreshold", threshold = 0, periods = 2
      description = "NAT gateway out of ports: pods cannot reach external endpoints."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  period              = 60
  evaluation_periods  = each.value.periods
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Server log lines are JSON (DESIGN.md); a metric filter counts errors so
# that a CloudWatch alarm fires even when Prometheus itself is down.
resource "aws_cloudwatch_log_metric_filter" "server_errors" {
  name           = "${local.name}-server-errors"
  log_group_name = aws_cloudwatch_log_group.server.name
  pattern        = "{ $.level = \"error\" }"

  metric_transformation {
    name      = "ServerErrorLogLines"
    namespace = "Fraud/${var.environment}"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "server_errors" {
  alarm_name          = "${local.name}-server-error-logs"
  alarm_description   = "More than 50 error lines a minute in the scoring server logs."
  namespace           = "Fraud/${var.environment}"
  metric_name         = "ServerErrorLogLines"
  statistic           = "Sum"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 50
  period              = 60
  evaluation_periods  = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
