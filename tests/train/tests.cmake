# Script-driven tests of the train module (included by tests/CMakeLists.txt).

# python-xgboost loads the model test_trainer.c trained through the C API and
# must predict what the C API predicted on the same rows.
set_tests_properties(train_test_trainer PROPERTIES FIXTURES_SETUP train_model)
add_test(NAME train_model_in_python
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/train/check_model.py
                 ${PROJECT_BINARY_DIR}/train-fixture
                 ${PROJECT_SOURCE_DIR}/tests/fixtures/train/table.csv)
set_tests_properties(train_model_in_python PROPERTIES
  FIXTURES_REQUIRED train_model LABELS train ENVIRONMENT "${FRAUD_TEST_ENV}")

# The fraud binary is also the server: it must not link libxgboost (the
# trainer loads it with dlopen on first use).
add_test(NAME train_cli_does_not_link_xgboost
         COMMAND sh -c "if ldd \"$1\" | grep -i xgboost; then echo \"$1 links libxgboost\"; exit 1; fi; echo ok"
                 sh $<TARGET_FILE:fraud_cli>)
set_tests_properties(train_cli_does_not_link_xgboost PROPERTIES LABELS train)

# The evaluation report renders in a real browser (Debian's chromium,
# headless): test_report.c writes the page, check_report.py screenshots it
# and checks the pixels.  Not a C test, so not repeated under ASan.
set_tests_properties(train_test_report PROPERTIES FIXTURES_SETUP train_report)
add_test(NAME train_report_renders_in_chromium
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/train/check_report.py
                 ${PROJECT_BINARY_DIR}/train-report/report.html)
set_tests_properties(train_report_renders_in_chromium PROPERTIES
  FIXTURES_REQUIRED train_report LABELS "train;no-sanitize" TIMEOUT 180
  ENVIRONMENT "${FRAUD_TEST_ENV}")

# docs/results.md: `fraud train` on each bundled real sample against an
# independent Python re-implementation of reading, the event-time split and
# the default features, trained with python3-xgboost: same split, test PR-AUC
# equal to 3 decimals.  A Python test, so not repeated under ASan.
add_test(NAME train_results_match_python
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/train/check_results.py
                 $<TARGET_FILE:fraud_cli> ${PROJECT_SOURCE_DIR} --assert)
set_tests_properties(train_results_match_python PROPERTIES
  LABELS "train;no-sanitize" TIMEOUT 300 ENVIRONMENT "${FRAUD_TEST_ENV}")

# fraud train / evaluate / tune end to end: flags and parameter files,
# progress only on a terminal, bad inputs leaving nothing behind, every
# figure of `fraud evaluate --json` recomputed with scikit-learn, derived
# threshold versions, an interrupted (SIGINT) search resumed to the same
# trials as an uninterrupted one.
add_test(NAME train_cli
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/train/cli_test.py
                 $<TARGET_FILE:fraud_cli> ${PROJECT_SOURCE_DIR})
set_tests_properties(train_cli PROPERTIES LABELS train TIMEOUT 300
                     ENVIRONMENT "${FRAUD_TEST_ENV}")
