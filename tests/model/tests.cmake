# The large XGBoost parity set (>= 20 models, depth 1..10 and one leaf-wise
# model to depth 31, 1..1000 trees,
# NaNs, default left/right, base_score != 0.5, every objective, categorical
# splits, models trained on the real-data slices) is generated at test time
# by python3-xgboost, because the models are too big to check in; the same
# Criterion tests that read the small checked-in set then check it.
set(FR_MODEL_CASES ${CMAKE_CURRENT_BINARY_DIR}/model_cases)
add_test(NAME model_cases_generate
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/fixtures/model/make_fixtures.py
          --full ${FR_MODEL_CASES})
set_tests_properties(model_cases_generate PROPERTIES LABELS model
  FIXTURES_SETUP model_cases TIMEOUT 900)
foreach(t xgboost_json predict shap onnx)
  add_test(NAME model_${t}_generated
    COMMAND $<TARGET_FILE:model_test_${t}> --jobs 1 -q)
  set_tests_properties(model_${t}_generated PROPERTIES LABELS model
    FIXTURES_REQUIRED model_cases TIMEOUT 900
    ENVIRONMENT "${FRAUD_TEST_ENV};FRAUD_MODEL_CASES=${FR_MODEL_CASES}")
endforeach()

# fraud explain / predict --features / export onnx end to end, against
# python3-xgboost (pred_contribs, predictions) and python3-onnx (checker),
# on a bundle trained from the PaySim sample.
add_test(NAME model_cli_end_to_end
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/model/check_cli.py
          $<TARGET_FILE:fraud_cli> ${PROJECT_SOURCE_DIR}/data/samples/paysim/paysim.csv.gz
          ${CMAKE_CURRENT_BINARY_DIR}/model-cli)
set_tests_properties(model_cli_end_to_end PROPERTIES LABELS model TIMEOUT 900
  ENVIRONMENT "${FRAUD_TEST_ENV}")

# The fuzz driver (fuzz/fuzz_model.c) replayed over the checked-in corpus
# without libFuzzer: every input that ever mattered to the loaders keeps
# running, under ASan/UBSan in build-asan.
add_executable(model_fuzz_replay ${PROJECT_SOURCE_DIR}/fuzz/fuzz_model.c
               ${PROJECT_SOURCE_DIR}/fuzz/replay_main.c)
target_include_directories(model_fuzz_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(model_fuzz_replay PRIVATE fraud_core)
add_test(NAME model_fuzz_corpus_replay
  COMMAND model_fuzz_replay ${PROJECT_SOURCE_DIR}/fuzz/corpus/model)
set_tests_properties(model_fuzz_corpus_replay PROPERTIES LABELS model TIMEOUT 900
  ENVIRONMENT "${FRAUD_TEST_ENV}")
