# Inputs.  terraform.tfvars.example shows a complete set; copy it to
# terraform.tfvars and edit.

variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "fraud"
}

variable "environment" {
  description = "Environment name (prod, staging, ...), part of every name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; the NetworkPolicy in deploy/k8s/common allows Redis inside it."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones used (subnets, NAT gateways, Redis replicas)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, one zone's outage cuts egress) instead of one per zone."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "cluster_admin_arns" {
  description = "IAM principals given cluster-admin access to the EKS API."
  type        = list(string)
  default     = []
}

variable "cluster_endpoint_public_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint (empty: private endpoint only)."
  type        = list(string)
  default     = []
}

variable "system_node_instance_types" {
  description = "Instance types of the small managed node group that runs Karpenter and cluster add-ons (scoring pods run on Karpenter nodes)."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "karpenter_version" {
  description = "Karpenter Helm chart version (v1 API)."
  type        = string
  default     = "1.1.1"
}

variable "redis_node_type" {
  description = "ElastiCache node type for the feature state store."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_replicas" {
  description = "Read replicas per Redis shard (automatic failover needs at least 1)."
  type        = number
  default     = 1
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 30
}

variable "metrics_retention_days" {
  description = "Days the metrics bucket keeps objects (long-term Prometheus blocks, reports)."
  type        = number
  default     = 400
}

variable "alarm_email" {
  description = "Address subscribed to the CloudWatch alarm topic (empty: no subscription)."
  type        = string
  default     = ""
}

variable "fraud_namespace" {
  description = "Kubernetes namespace of the scoring server (deploy/k8s uses fraud)."
  type        = string
  default     = "fraud"
}
