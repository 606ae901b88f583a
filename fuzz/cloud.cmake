# The cloud's protocol handlers under libFuzzer, against the temporary
# store the unit tests use too (tests/unit/cloud_fixture.c).
set(cloud_fixture ${PROJECT_SOURCE_DIR}/tests/unit/cloud_fixture.c)
cy_fuzz(fuzz_nms SOURCES fuzz_nms.c ${cloud_fixture} LIBS cy_nms cy_store cy_common)
cy_fuzz(fuzz_as SOURCES fuzz_as.c ${cloud_fixture} LIBS cy_as cy_store cy_common)
target_include_directories(fuzz_nms PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_include_directories(fuzz_as PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
