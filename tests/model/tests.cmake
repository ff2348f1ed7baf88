# The large XGBoost parity set (>= 20 models, depth 1..10, 1..1000 trees,
# NaNs, default left/right, base_score != 0.5, every objective, categorical
# splits, models trained on the real-data slices): generated at test time by
# python3-xgboost, because the models are too big to check in, then checked
# by the same Criterion test that reads the small checked-in set.
set(FR_MODEL_CASES ${CMAKE_CURRENT_BINARY_DIR}/model_cases)
add_test(NAME model_xgboost_parity_generated
  COMMAND sh -c "/usr/bin/python3 '${PROJECT_SOURCE_DIR}/tests/fixtures/model/make_fixtures.py' --full '${FR_MODEL_CASES}' 2>/dev/null && FRAUD_MODEL_CASES='${FR_MODEL_CASES}' '$<TARGET_FILE:model_test_xgboost_json>' --jobs 1 -q --filter 'xgboost_json/parity*'")
set_tests_properties(model_xgboost_parity_generated PROPERTIES LABELS model
  ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 900)
