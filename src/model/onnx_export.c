/*
 * onnx_export.c - writes a forest as an ONNX model with one ai.onnx.ml
 * TreeEnsembleClassifier or TreeEnsembleRegressor (ONNX IR 8, ai.onnx.ml
 * opset 3; operator semantics as in onnx.c).
 *
 * Every split is written so that a runtime following the ONNX spec
 * computes what we compute, for every float32 input:
 *
 *   our "left iff x < thr" (XGBoost's strict less-than)
 *       -> BRANCH_LT with the same float32 threshold, true = left
 *   "every number left" (a NaN threshold, from x <= +inf)
 *       -> BRANCH_LEQ +inf
 *   NaN's default direction -> nodes_missing_value_tracks_true
 *   EQ / NEQ                 -> BRANCH_EQ / BRANCH_NEQ
 *
 * Categorical splits and LightGBM's zero band have no TreeEnsemble
 * equivalent in opset 3 and make the export fail (FR_EUNAVAIL).  The base
 * margin goes to base_values (for logistic objectives that is
 * logit(base_score)) and the objective to post_transform, applied once by
 * the runtime:
 *
 *   binary:logistic    Classifier, labels [0, 1], one score (class id 0,
 *                      the onnxmltools convention), LOGISTIC
 *   multi:softprob     Classifier, one label per class, SOFTMAX
 *   reg:logistic       Regressor, LOGISTIC
 *   binary:logitraw,   Regressor, NONE (the score itself; reloading gives
 *   reg:squarederror   reg:squarederror, with the same numbers)
 *
 * A LightGBM sigmoid:k is folded into the weights and base (k * leaf).
 * Node covers go to nodes_hitrates, so TreeSHAP works on the reloaded
 * model; feature names go to the model's metadata_props ("feature_names",
 * one per line).
 */
#include <stdlib.h>
#include <string.h>

#include "model/forest_internal.h"
#include "onnx.pb-c.h"

/* Static mode strings the attribute arrays point to. */
#define BIN(s) {sizeof(s) - 1, (uint8_t *)(s)}
static const ProtobufCBinaryData MODE_LT = BIN("BRANCH_LT");
static const ProtobufCBinaryData MODE_LEQ = BIN("BRANCH_LEQ");
static const ProtobufCBinaryData MODE_EQ = BIN("BRANCH_EQ");
static const ProtobufCBinaryData MODE_NEQ = BIN("BRANCH_NEQ");
static const ProtobufCBinaryData MODE_LEAF = BIN("LEAF");

typedef struct exporter {
  Onnx__AttributeProto attrs[20];
  Onnx__AttributeProto *attr_ptrs[20];
  size_t nattrs;
} exporter;

static Onnx__AttributeProto *new_attr(exporter *e, const char *name,
                                      Onnx__AttributeProto__AttributeType type) {
  Onnx__AttributeProto init = ONNX__ATTRIBUTE_PROTO__INIT;
  Onnx__AttributeProto *a = &e->attrs[e->nattrs];
  *a = init;
  a->name = (char *)name;
  a->has_type = 1;
  a->type = type;
  e->attr_ptrs[e->nattrs++] = a;
  return a;
}

static void ints_attr(exporter *e, const char *name, int64_t *v, size_t n) {
  Onnx__AttributeProto *a = new_attr(e, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = n;
  a->ints = v;
}

static void floats_attr(exporter *e, const char *name, float *v, size_t n) {
  Onnx__AttributeProto *a = new_attr(e, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
  a->n_floats = n;
  a->floats = v;
}

static void string_attr(exporter *e, const char *name, const char *s) {
  Onnx__AttributeProto *a = new_attr(e, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  a->has_s = 1;
  a->s.len = strlen(s);
  a->s.data = (uint8_t *)s;
}

static void int_attr(exporter *e, const char *name, int64_t v) {
  Onnx__AttributeProto *a = new_attr(e, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = 1;
  a->i = v;
}

/* A tensor value_info: elem_type with dims (<= 2; -1 = the symbolic "N"). */
typedef struct vinfo {
  Onnx__ValueInfoProto vi;
  Onnx__TypeProto tp;
  Onnx__TypeProto__Tensor tt;
  Onnx__TensorShapeProto shape;
  Onnx__TensorShapeProto__Dimension dims[2];
  Onnx__TensorShapeProto__Dimension *dim_ptrs[2];
} vinfo;

static void make_vinfo(vinfo *v, const char *name, int32_t elem, int64_t d1) {
  Onnx__ValueInfoProto vi = ONNX__VALUE_INFO_PROTO__INIT;
  Onnx__TypeProto tp = ONNX__TYPE_PROTO__INIT;
  Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
  Onnx__TensorShapeProto sh = ONNX__TENSOR_SHAPE_PROTO__INIT;
  Onnx__TensorShapeProto__Dimension dm = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
  v->vi = vi;
  v->tp = tp;
  v->tt = tt;
  v->shape = sh;
  v->dims[0] = dm;
  v->dims[1] = dm;
  v->dims[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  v->dims[0].dim_param = "N";
  v->dim_ptrs[0] = &v->dims[0];
  v->dim_ptrs[1] = &v->dims[1];
  v->shape.n_dim = 1;
  if (d1 > 0) {
    v->dims[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    v->dims[1].dim_value = d1;
    v->shape.n_dim = 2;
  }
  v->shape.dim = v->dim_ptrs;
  v->tt.has_elem_type = 1;
  v->tt.elem_type = elem;
  v->tt.shape = &v->shape;
  v->tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  v->tp.tensor_type = &v->tt;
  v->vi.name = (char *)name;
  v->vi.type = &v->tp;
}

int fr_forest_to_onnx(const fr_forest *f, uint8_t **data, size_t *len, fr_error *err) {
  if (data)
    *data = NULL;
  if (len)
    *len = 0;
  if (!f || !data || !len)
    return fr_error_set(err, FR_EINVAL, "fr_forest_to_onnx: NULL argument");
  size_t N = f->nnodes, k = f->noutputs;
  int classifier = f->objective == FR_OBJ_BINARY_LOGISTIC || f->objective == FR_OBJ_MULTI_SOFTPROB;
  int single = f->objective == FR_OBJ_BINARY_LOGISTIC && k == 1;
  size_t nlabels = single ? 2 : k;
  float scale = f->sigmoid_scale;
  size_t nleaves = 0;
  for (size_t i = 0; i < N; i++)
    if (f->nodes[i].left == i)
      nleaves++;
  int64_t *tree = malloc(N * sizeof *tree), *nid = malloc(N * sizeof *nid);
  int64_t *feat = malloc(N * sizeof *feat), *tn = malloc(N * sizeof *tn);
  int64_t *fn = malloc(N * sizeof *fn), *miss = malloc(N * sizeof *miss);
  float *val = malloc(N * sizeof *val), *hit = malloc(N * sizeof *hit);
  ProtobufCBinaryData *modes = malloc(N * sizeof *modes);
  int64_t *wt = malloc((nleaves + 1) * sizeof *wt), *wn = malloc((nleaves + 1) * sizeof *wn);
  int64_t *wid = malloc((nleaves + 1) * sizeof *wid);
  float *ww = malloc((nleaves + 1) * sizeof *ww), *base = malloc(k * sizeof *base);
  int64_t *labels = malloc(nlabels * sizeof *labels);
  char *names = NULL;
  int rc = 0;
  if (!tree || !nid || !feat || !tn || !fn || !miss || !val || !hit || !modes || !wt || !wn ||
      !wid || !ww || !base || !labels) {
    rc = fr_error_set(err, FR_ENOMEM, "ONNX export: out of memory");
    goto out;
  }
  size_t w = 0;
  for (size_t t = 0; t < f->ntrees; t++) {
    size_t lo = f->tree_root[t], hi = t + 1 < f->ntrees ? f->tree_root[t + 1] : N;
    for (size_t i = lo; i < hi; i++) {
      const fr__node *n = &f->nodes[i];
      tree[i] = (int64_t)t;
      nid[i] = (int64_t)(i - lo);
      hit[i] = (float)f->cover[i];
      if (n->left == i) {
        modes[i] = MODE_LEAF;
        feat[i] = tn[i] = fn[i] = miss[i] = 0;
        val[i] = 0;
        wt[w] = (int64_t)t;
        wn[w] = (int64_t)(i - lo);
        wid[w] = f->tree_group[t];
        ww[w] = scale == 1.0f ? n->u.value : scale * n->u.value;
        w++;
        continue;
      }
      feat[i] = n->feat & FR__NODE_FEAT_MASK;
      tn[i] = (int64_t)(n->left - lo);      /* true: left */
      fn[i] = (int64_t)(n->left + 1 - lo);  /* false: right */
      miss[i] = (n->feat & FR__NODE_NAN_RIGHT) ? 0 : 1;
      val[i] = n->thr;
      modes[i] = MODE_LT;
      if (n->feat & FR__NODE_SPECIAL) {
        const fr__special *s = &f->specials[n->u.special];
        if (s->kind == FR__SPECIAL_EQ || s->kind == FR__SPECIAL_NEQ) {
          modes[i] = s->kind == FR__SPECIAL_EQ ? MODE_EQ : MODE_NEQ;
          if (isnan(n->thr)) { /* never equal: EQ is "right", NEQ "left" */
            modes[i] = s->kind == FR__SPECIAL_EQ ? MODE_LT : MODE_LEQ;
            val[i] = s->kind == FR__SPECIAL_EQ ? -INFINITY : INFINITY;
          }
        } else {
          rc = fr_error_set(err, FR_EUNAVAIL,
                            "ONNX export: tree %zu has a %s split, which ai.onnx.ml "
                            "TreeEnsemble (opset 3) cannot express",
                            t, s->kind == FR__SPECIAL_CAT ? "categorical" : "LightGBM zero-band");
          goto out;
        }
      } else if (isnan(n->thr)) { /* every number left */
        modes[i] = MODE_LEQ;
        val[i] = INFINITY;
      }
    }
  }
  for (size_t g = 0; g < k; g++)
    base[g] = scale == 1.0f ? f->base_margin[g] : scale * f->base_margin[g];
  for (size_t l = 0; l < nlabels; l++)
    labels[l] = (int64_t)l;

  exporter e;
  e.nattrs = 0;
  ints_attr(&e, "nodes_treeids", tree, N);
  ints_attr(&e, "nodes_nodeids", nid, N);
  ints_attr(&e, "nodes_featureids", feat, N);
  Onnx__AttributeProto *ma = new_attr(&e, "nodes_modes",
                                      ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
  ma->n_strings = N;
  ma->strings = modes;
  floats_attr(&e, "nodes_values", val, N);
  ints_attr(&e, "nodes_truenodeids", tn, N);
  ints_attr(&e, "nodes_falsenodeids", fn, N);
  ints_attr(&e, "nodes_missing_value_tracks_true", miss, N);
  if (f->has_cover)
    floats_attr(&e, "nodes_hitrates", hit, N);
  ints_attr(&e, classifier ? "class_treeids" : "target_treeids", wt, w);
  ints_attr(&e, classifier ? "class_nodeids" : "target_nodeids", wn, w);
  if (single)
    for (size_t i = 0; i < w; i++)
      wid[i] = 0;
  ints_attr(&e, classifier ? "class_ids" : "target_ids", wid, w);
  floats_attr(&e, classifier ? "class_weights" : "target_weights", ww, w);
  floats_attr(&e, "base_values", base, k);
  const char *post = "NONE";
  if (f->objective == FR_OBJ_BINARY_LOGISTIC || f->objective == FR_OBJ_REG_LOGISTIC)
    post = "LOGISTIC";
  else if (f->objective == FR_OBJ_MULTI_SOFTPROB)
    post = "SOFTMAX";
  string_attr(&e, "post_transform", post);
  if (classifier)
    ints_attr(&e, "classlabels_int64s", labels, nlabels);
  else {
    int_attr(&e, "n_targets", (int64_t)k);
    string_attr(&e, "aggregate_function", "SUM");
  }

  Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
  char *in_names[] = {"input"};
  char *cls_out[] = {"label", "probabilities"};
  char *reg_out[] = {"variable"};
  node.n_input = 1;
  node.input = in_names;
  node.n_output = classifier ? 2 : 1;
  node.output = classifier ? cls_out : reg_out;
  node.name = "forest";
  node.op_type = classifier ? "TreeEnsembleClassifier" : "TreeEnsembleRegressor";
  node.domain = "ai.onnx.ml";
  node.n_attribute = e.nattrs;
  node.attribute = e.attr_ptrs;
  Onnx__NodeProto *node_ptrs[] = {&node};

  vinfo vin, vout1, vout2;
  make_vinfo(&vin, "input", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, (int64_t)f->nfeatures);
  if (classifier) {
    make_vinfo(&vout1, "label", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0);
    make_vinfo(&vout2, "probabilities", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, (int64_t)nlabels);
  } else {
    make_vinfo(&vout1, "variable", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, (int64_t)k);
  }
  Onnx__ValueInfoProto *ins[] = {&vin.vi};
  Onnx__ValueInfoProto *outs[] = {&vout1.vi, &vout2.vi};

  Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
  graph.n_node = 1;
  graph.node = node_ptrs;
  graph.name = "fraud_forest";
  graph.n_input = 1;
  graph.input = ins;
  graph.n_output = classifier ? 2 : 1;
  graph.output = outs;

  Onnx__OperatorSetIdProto ml = ONNX__OPERATOR_SET_ID_PROTO__INIT, def = ml;
  ml.domain = "ai.onnx.ml";
  ml.has_version = 1;
  ml.version = 3;
  def.domain = "";
  def.has_version = 1;
  def.version = 15;
  Onnx__OperatorSetIdProto *opsets[] = {&def, &ml};

  Onnx__StringStringEntryProto meta = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
  Onnx__StringStringEntryProto *metas[] = {&meta};
  Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
  if (f->feature_names) {
    size_t total = 1;
    for (size_t i = 0; i < f->nfeatures; i++)
      total += strlen(f->feature_names[i]) + 1;
    names = malloc(total);
    if (!names) {
      rc = fr_error_set(err, FR_ENOMEM, "ONNX export: out of memory");
      goto out;
    }
    char *p = names;
    for (size_t i = 0; i < f->nfeatures; i++) {
      size_t l = strlen(f->feature_names[i]);
      memcpy(p, f->feature_names[i], l);
      p += l;
      *p++ = i + 1 < f->nfeatures ? '\n' : '\0';
    }
    meta.key = "feature_names";
    meta.value = names;
    model.n_metadata_props = 1;
    model.metadata_props = metas;
  }
  model.has_ir_version = 1;
  model.ir_version = 8;
  model.n_opset_import = 2;
  model.opset_import = opsets;
  model.producer_name = "fraud";
  model.producer_version = (char *)fr_version();
  model.doc_string = "Tree ensemble exported by fraud (docs/forest.md).";
  model.graph = &graph;

  size_t sz = onnx__model_proto__get_packed_size(&model);
  uint8_t *buf = malloc(sz ? sz : 1);
  if (!buf) {
    rc = fr_error_set(err, FR_ENOMEM, "ONNX export: out of memory");
    goto out;
  }
  onnx__model_proto__pack(&model, buf);
  *data = buf;
  *len = sz;
out:
  free(tree);
  free(nid);
  free(feat);
  free(tn);
  free(fn);
  free(miss);
  free(val);
  free(hit);
  free(modes);
  free(wt);
  free(wn);
  free(wid);
  free(ww);
  free(base);
  free(labels);
  free(names);
  return rc;
}

int fr_forest_export_onnx(const fr_forest *f, const char *path, fr_error *err) {
  if (!path)
    return fr_error_set(err, FR_EINVAL, "fr_forest_export_onnx: no path");
  uint8_t *data;
  size_t len;
  int rc = fr_forest_to_onnx(f, &data, &len, err);
  if (rc)
    return rc;
  rc = fr_file_write_atomic(path, data, len, err);
  free(data);
  return rc;
}
