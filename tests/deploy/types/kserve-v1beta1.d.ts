// TypeScript declaration of the KServe InferenceService (API
// serving.kserve.io/v1beta1) for the deploy checks: the type checker then
// rejects unknown fields and wrong types in deploy/k8s/kserve exactly as it
// does for the built-in kinds.
//
// Written from KServe's published CRD (github.com/kserve/kserve,
// config/crd/full/serving.kserve.io_inferenceservices.yaml, v0.15): every
// field of the predictor spec is declared; the pod-level and container
// fields reuse the Kubernetes types of kubernetes-models, as KServe inlines
// the PodSpec.  Model-format specs (sklearn, xgboost, ... , model) are
// declared loosely since a custom predictor must not use them.
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

type Loose = { [key: string]: unknown };

/** ComponentExtensionSpec of the CRD: scaling, canary, batching, logging. */
export interface IComponentExtensionSpec {
  /** Minimum replicas; 0 allows scale to zero (Serverless mode only). */
  minReplicas?: number;
  maxReplicas?: number;
  /** Metric the autoscaler targets. */
  scaleMetric?: "cpu" | "memory" | "concurrency" | "rps";
  scaleMetricType?: "Utilization" | "AverageValue" | "Value";
  scaleTarget?: number;
  containerConcurrency?: number;
  /** Seconds before a request times out. */
  timeout?: number;
  /** Percentage of traffic for the latest ready revision (0..100). */
  canaryTrafficPercent?: number;
  logger?: Loose;
  batcher?: Loose;
  labels?: { [key: string]: string };
  annotations?: { [key: string]: string };
  deploymentStrategy?: Loose;
  autoScaling?: Loose;
}

type PodFields = Omit<IPodSpec, "containers"> & {
  containers?: IPodSpec["containers"];
};

export interface IPredictorSpec extends PodFields, IComponentExtensionSpec {
  model?: Loose;
  sklearn?: Loose;
  xgboost?: Loose;
  tensorflow?: Loose;
  pytorch?: Loose;
  triton?: Loose;
  onnx?: Loose;
  huggingface?: Loose;
  pmml?: Loose;
  lightgbm?: Loose;
  paddle?: Loose;
  workerSpec?: Loose;
  /** Deprecated alias of serviceAccountName in the CRD. */
  serviceAccount?: string;
}

export interface IInferenceService {
  apiVersion: "serving.kserve.io/v1beta1";
  kind: "InferenceService";
  metadata: IObjectMeta;
  spec: {
    predictor: IPredictorSpec;
    transformer?: Loose;
    explainer?: Loose;
  };
}
