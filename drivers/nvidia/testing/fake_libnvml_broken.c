/* A libnvidia-ml.so.1 that exports only the init functions: DlopenNvml must
 * refuse it with FailedPrecondition naming the first missing required symbol
 * (nvmlSystemGetDriverVersion). Test-only. */
#define EXPORT __attribute__((visibility("default")))

EXPORT int nvmlInit_v2(void) { return 0; }
EXPORT int nvmlShutdown(void) { return 0; }
EXPORT const char* nvmlErrorString(int result) { return result == 0 ? "Success" : "Unknown Error"; }
