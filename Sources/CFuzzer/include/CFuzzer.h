// libFuzzer's driver, for a fuzzing executable that has its own main (SwiftPM names every
// executable's entry point itself). Linked from libclang_rt.fuzzer under -sanitize=fuzzer.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
