# Deployment checks (issue 8): script-driven, offline, seconds each.
# deploy_npm installs the pinned Node.js validators into the build tree
# (the only step that may reach the npm registry, once per lock file) and
# is the fixture of the others.  The static checks do not exercise our C
# code, so they are left out of the sanitizer run (label no-sanitize); the
# live scrape of a running server is not.
set(FR_DEPLOY_RUN ${CMAKE_CURRENT_SOURCE_DIR}/deploy/run.sh)

add_test(NAME deploy_npm COMMAND ${FR_DEPLOY_RUN} npm)
set_tests_properties(deploy_npm PROPERTIES FIXTURES_SETUP deploy_node
  LABELS "deploy" ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 600)

foreach(check docker k8s terraform prometheus dashboards)
  add_test(NAME deploy_${check} COMMAND ${FR_DEPLOY_RUN} ${check})
  set_tests_properties(deploy_${check} PROPERTIES FIXTURES_REQUIRED deploy_node
    LABELS "deploy;no-sanitize" ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 300)
endforeach()

# docs/deploy.md's publish and rollout steps (train, upload, release) on
# stand-ins for S3, terraform and kubectl; runs `fraud train` and `fraud
# models`, so it stays in the sanitizer run.
add_test(NAME deploy_docs COMMAND ${FR_DEPLOY_RUN} docs)
set_tests_properties(deploy_docs PROPERTIES
  LABELS "deploy" ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 300)

# Scrapes a running `fraud serve`: every metric a rule or dashboard uses must
# be exported.  Exit code 77 = skipped, and only while `fraud serve` does
# not exist (see the script).
add_test(NAME deploy_live_metrics COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/deploy/live_metrics.sh)
set_tests_properties(deploy_live_metrics PROPERTIES FIXTURES_REQUIRED deploy_node
  LABELS "deploy" ENVIRONMENT "${FRAUD_TEST_ENV}" TIMEOUT 300 SKIP_RETURN_CODE 77)
