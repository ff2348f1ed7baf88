# Model module build settings.
#
# predict.c holds the portable kernels, written as several independent
# scalar walks the CPU overlaps.  GCC's SLP vectorizer rewrites those into
# SSE code that emulates gathers with shuffles, which is slower; the real
# SIMD kernels are in predict_simd.c (run-time dispatched).
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/model/predict.c
  PROPERTIES COMPILE_OPTIONS "-fno-tree-vectorize")
