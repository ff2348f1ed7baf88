# The featurizer benchmark (bench/features, docs/benchmarks-features.md) is a
# plain C program on libfraud, built with the tests so that `make bench`
# (bench/features/run.sh) finds it in the build directory.
if(FRAUD_BUILD_BENCH)
  add_executable(bench_features ${PROJECT_SOURCE_DIR}/bench/features/bench_features.c)
  target_link_libraries(bench_features PRIVATE fraud_core)
endif()
