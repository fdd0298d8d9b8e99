#pragma once
// KILN_TSAN is defined in a ThreadSanitizer build (GCC spells the test
// __SANITIZE_THREAD__, Clang __has_feature(thread_sanitizer)), for the few
// places that must tell TSan what it cannot see.
#if defined(__SANITIZE_THREAD__)
#define KILN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KILN_TSAN 1
#endif
#endif
