# The cloud's protocol handlers under libFuzzer.
cy_fuzz(fuzz_nms SOURCES fuzz_nms.c LIBS cy_nms cy_store cy_common)
cy_fuzz(fuzz_as SOURCES fuzz_as.c LIBS cy_as cy_store cy_common)
