# The demo, end to end, as a test: scripts/demo.sh on the PaySim sample
# (train, evaluate on the test slice, predict, serve with warm state, replay
# the test slice over HTTP, require online = offline on every row).  PaySim is
# the quickest of the three samples (a few seconds); `make demo` runs all.
add_test(NAME cli_demo_smoke
         COMMAND ${CMAKE_COMMAND} -E env DEMO_OUT=${PROJECT_BINARY_DIR}/demo-smoke
                 ${PROJECT_SOURCE_DIR}/scripts/demo.sh $<TARGET_FILE:fraud_cli> paysim
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_demo_smoke PROPERTIES LABELS "cli;no-sanitize"
                     ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 300)

# Usage errors and exit codes of the commands the lead owns.
add_test(NAME cli_exit_codes
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/exit_codes.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_exit_codes PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 120)

# Training into a model repository, `models list`, `-o -`, `explain -k`
# and `serve` failing fast on a bad warm-start history (the review fixes).
add_test(NAME cli_bundle
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/bundle_cli.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_bundle PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 300)

# `fraud version`: each library's version against pkg-config, dpkg and
# python3-xgboost.
add_test(NAME cli_version
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/version.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_version PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 60)

# `fraud models` release commands on a repository of bare models: the review
# findings (stages.json that does not parse, ...).
add_test(NAME cli_models
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/models_cli.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_models PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 120)

# Findings of a newcomer review: write errors on /dev/full (through a link),
# flag checks, card numbers masked in error messages, config exit codes.
add_test(NAME cli_review
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/review_cli.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_review PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 120)

# Findings of a second newcomer review of the offline commands (ids after
# skipped rows, unlabelled scoring, label leakage in a feature spec, masking
# of the program's own numbers, --save-thresholds layout, non-binary bundles,
# outputs over inputs, multi-document YAML, generate's range, write errors).
add_test(NAME cli_clifix
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/clifix_cli.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_clifix PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 300)

# `fraud train` interrupted (SIGINT, SIGTERM) at 20 points, half of them at
# the write stage: never a temporary directory left, and the exit status
# and message match the bundle that exists.
add_test(NAME cli_train_interrupt
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/train_interrupt.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_train_interrupt PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 300)

# A re-check review's four offline fixes: unparseable labels in scoring
# input, the skip note of predict / explain / features, generate's --start
# range and `models list` / `show` of a bundle its loader refuses.
add_test(NAME cli_off3
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/off3_cli.sh $<TARGET_FILE:fraud_cli>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(cli_off3 PROPERTIES LABELS cli ENVIRONMENT "${FRAUD_TEST_ENV}"
                     TIMEOUT 300)
