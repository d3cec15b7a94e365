/* A libdcmi.so that exports only dcmi_init: DlopenDcmi must refuse it with
 * FailedPrecondition naming the first missing required symbol. Test-only. */
#define EXPORT __attribute__((visibility("default")))

EXPORT int dcmi_init(void) { return 0; }
