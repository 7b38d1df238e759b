// Per-vCPU compute speed over time: one thread pinned to each CPU runs independent AVX-512 FMA chains
// and prints the GFLOP/s of each CPU per window ("cpu0/cpu1 ..."). Shows whether the cores of a shared
// machine run at the same speed, and when one slows down (docs/PERFORMANCE.md, "Batch 1 and the host").
//   gcc -O2 -mavx512f -pthread docs/tools/vcpu-speed.c -o /tmp/vcpu-speed && /tmp/vcpu-speed 60 0.5
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64
#define MAX_WINDOWS 10000

static int windows;
static double window_s;
static double start_s;
static double rates[MAX_CPUS][MAX_WINDOWS];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
    long cpu = (long) arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    // 16 independent chains keep both FMA pipes busy despite the FMA latency
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(1.0f + i * 1e-7f);
    __m512 m = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
    for (int w = 0; w < windows; w++) {
        double end = start_s + (w + 1) * window_s, t0 = now();
        long blocks = 0;
        while (now() < end) {
            for (int r = 0; r < 1000; r++)
                for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, b);
            blocks++;
        }
        rates[cpu][w] = blocks * 1000.0 * 16 * 16 * 2 / (now() - t0) / 1e9;
    }
    float sink = 0;
    for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(acc[i]);
    return sink == 12345.0f ? arg : NULL; // keeps the chains live
}

int main(int argc, char **argv) {
    windows = argc > 1 ? atoi(argv[1]) : 60;
    window_s = argc > 2 ? atof(argv[2]) : 0.5;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > MAX_CPUS) cpus = MAX_CPUS;
    if (windows > MAX_WINDOWS) windows = MAX_WINDOWS;
    pthread_t threads[MAX_CPUS];
    start_s = now();
    for (long c = 0; c < cpus; c++) pthread_create(&threads[c], NULL, run, (void *) c);
    for (long c = 0; c < cpus; c++) pthread_join(threads[c], NULL);
    for (int w = 0; w < windows; w++) {
        for (long c = 0; c < cpus; c++) printf(c == 0 ? "%.0f" : "/%.0f", rates[c][w]);
        printf(w + 1 < windows ? " " : "\n");
    }
    return 0;
}
