/* LD_PRELOAD library for measuring peers at a lower x86 level: it turns on
 * CPUID faulting (arch_prctl ARCH_SET_CPUID) and answers each CPUID itself
 * with AVX-512, AVX-VNNI and AMX hidden, so that a library choosing its
 * kernels by CPUID (ONNX Runtime's MLAS, ncnn, Kiln) takes its AVX2 ones.
 * Kiln has --isa for that; its peers do not. Used by scripts/bench_vs_ort.py
 * and bench_vs_ncnn.py with --cpu-level avx2; built by them with
 *   cc -O2 -shared -fPIC scripts/cpuid_mask.c -o libcpuid_mask.so -ldl
 * Linux x86-64 only, and the CPU (or hypervisor) must offer CPUID faulting
 * ("cpuid_fault" in /proc/cpuinfo); otherwise the process exits with status 3
 * and says so, rather than measuring the wrong level.
 *
 * A fault whose instruction is not CPUID goes to the handler the program
 * installed for SIGSEGV (sigaction is wrapped to keep this one first), so
 * programs with their own SIGSEGV handling (Node.js) still work. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);
static sigaction_fn real_sigaction;
static struct sigaction program_handler; /* the program's SIGSEGV action */

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Leaf 7: EBX AVX512F/DQ/IFMA/PF/ER/CD/BW/VL, ECX VBMI/VBMI2/VNNI/BITALG/
 * VPOPCNTDQ, EDX VP2INTERSECT/AMX-BF16/FP16/AMX-TILE/AMX-INT8; subleaf 1 EAX
 * AVX-VNNI and AVX512_BF16. AVX2 and FMA stay. */
static void hide_above_avx2(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  if (leaf == 7 && sub == 0) {
    r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
    r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
    r[3] &= ~((1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
  } else if (leaf == 7 && sub == 1) {
    r[0] &= ~((1u << 4) | (1u << 5));
  }
}

void cpuid_mask_handler(int sig, siginfo_t* info, void* context) {
  ucontext_t* uc = (ucontext_t*)context;
  greg_t* g = uc->uc_mcontext.gregs;
  const uint8_t* ip = (const uint8_t*)g[REG_RIP];
  if (ip[0] != 0x0f || ip[1] != 0xa2) {
    if ((program_handler.sa_flags & SA_SIGINFO) && program_handler.sa_sigaction) {
      program_handler.sa_sigaction(sig, info, context);
    } else if (program_handler.sa_handler != SIG_DFL && program_handler.sa_handler != SIG_IGN &&
               program_handler.sa_handler) {
      program_handler.sa_handler(sig);
    } else {
      struct sigaction dfl;
      memset(&dfl, 0, sizeof dfl);
      dfl.sa_handler = SIG_DFL;
      real_sigaction(SIGSEGV, &dfl, 0);  /* the fault repeats and ends the process as usual */
    }
    return;
  }
  uint32_t r[4];
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
  cpuid((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
  hide_above_avx2((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
  g[REG_RAX] = r[0], g[REG_RBX] = r[1], g[REG_RCX] = r[2], g[REG_RDX] = r[3];
  g[REG_RIP] += 2;
}

int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  if (sig == SIGSEGV && (!act || (void*)act->sa_sigaction != (void*)cpuid_mask_handler)) {
    if (old) *old = program_handler;
    if (act) program_handler = *act;
    return 0;
  }
  return real_sigaction(sig, act, old);
}

__attribute__((constructor)) static void cpuid_mask_init(void) {
  real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = cpuid_mask_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  real_sigaction(SIGSEGV, &sa, 0);
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    static const char msg[] = "cpuid_mask: this CPU or hypervisor offers no CPUID faulting; cannot hide AVX-512\n";
    if (write(2, msg, sizeof msg - 1) < 0) {}
    _exit(3);
  }
}
