# The cloud's protocol handlers under libFuzzer.  fuzz_as runs against the
# temporary store the unit tests use too (tests/unit/cloud_fixture.c);
# fuzz_nms sets up its own in-memory store and seals its inputs.
set(cloud_fixture ${PROJECT_SOURCE_DIR}/tests/unit/cloud_fixture.c)
cy_fuzz(fuzz_nms SOURCES fuzz_nms.c LIBS cy_nms cy_store cy_proto cy_common)
cy_fuzz(fuzz_as SOURCES fuzz_as.c ${cloud_fixture} LIBS cy_as cy_store cy_proto cy_common)
target_include_directories(fuzz_as PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)

# Regenerate fuzz_nms's seeds (deterministic) into fuzz/corpus/fuzz_nms/:
#   cmake --build build-fuzz --target fuzz_nms_seeds
add_custom_target(fuzz_nms_seeds
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_SOURCE_DIR}/fuzz/corpus/fuzz_nms
  COMMAND ${CMAKE_COMMAND} -E env FUZZ_NMS_WRITE_SEEDS=${PROJECT_SOURCE_DIR}/fuzz/corpus/fuzz_nms
          $<TARGET_FILE:fuzz_nms>
  DEPENDS fuzz_nms
  COMMENT "Writing fuzz/corpus/fuzz_nms/ (fuzz/fuzz_nms.c, write_seeds)")

# The web console's request inputs: cookie, session token, form, CSRF header.
cy_fuzz(fuzz_console SOURCES fuzz_console.c LIBS cy_console)
