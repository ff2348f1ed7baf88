# What deploy/k8s needs (docs/deploy.md, step 5).

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "EKS API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "models_bucket" {
  description = "Bucket of the model repository (s3://<bucket>/repository/)."
  value       = aws_s3_bucket.this["models"].bucket
}

output "data_bucket" {
  description = "Bucket of training data."
  value       = aws_s3_bucket.this["data"].bucket
}

output "metrics_bucket" {
  description = "Bucket of long-term metrics."
  value       = aws_s3_bucket.this["metrics"].bucket
}

output "server_role_arn" {
  description = "IAM role of the fraud-server service account."
  value       = module.server_irsa.role_arn
}

output "trainer_role_arn" {
  description = "IAM role of the fraud-trainer service account."
  value       = module.trainer_irsa.role_arn
}

output "prometheus_role_arn" {
  description = "IAM role of Prometheus' service account (metrics bucket)."
  value       = module.prometheus_irsa.role_arn
}

output "karpenter_node_role_name" {
  description = "Node role for the EC2NodeClass (deploy/k8s/karpenter)."
  value       = aws_iam_role.karpenter_node.name
}

output "redis_url" {
  description = "FRAUD_STATE_REDIS_URL for the server (TLS)."
  value       = "rediss://${aws_elasticache_replication_group.redis.primary_endpoint_address}:6379/0"
}

output "ecr_repository_url" {
  description = "Where to push the server image."
  value       = aws_ecr_repository.server.repository_url
}

output "alarm_topic_arn" {
  description = "SNS topic of the CloudWatch alarms."
  value       = aws_sns_topic.alarms.arn
}

output "server_log_group" {
  description = "CloudWatch log group the cluster's log agent ships server logs to."
  value       = aws_cloudwatch_log_group.server.name
}
