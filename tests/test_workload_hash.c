/* A refactoring guard for the synthetic workloads (src/trace/synth*.c):
 * the first N events of every workload, under a few specs that reach its
 * parameter paths (defaults, write choices, instruction fetches, a narrow
 * address space), hashed with FNV-1a over every field of every event.
 *
 * What the streams should be is tested in test_synth.c from the patterns'
 * definitions. These hashes claim nothing about correctness: they were
 * recorded from the code before synth.c was split into one file per
 * workload family (issue 13), and they say that a change which only moves
 * code leaves every stream bit for bit as it was. A change that means to
 * alter a stream updates the hash in the same commit and says why. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmsim/event.h"
#include "vmsim/vmsim.h"

#define N_EVENTS 1200000u /* past default's first time slice (500000) */
#define BATCH 777u /* odd, so batch ends fall anywhere in a generator's steps */

struct expect {
    const char *spec;
    uint64_t hash;
};

static const struct expect expected[] = {
    {"seq", UINT64_C(0xa498b5d428cd79c8)},
    {"seq:write=0.3,code=64k,access=64,stride=64", UINT64_C(0xb7aba09a187539d6)},
    {"seq:va_bits=39", UINT64_C(0x8b6b901438a31848)},
    {"stride", UINT64_C(0xa2ed99c113cbf208)},
    {"stride:write=0.5,code=4k", UINT64_C(0xf009e92d80461bbd)},
    {"random", UINT64_C(0x1358d80c25c59b40)},
    {"random:write=0.3,code=64k", UINT64_C(0x1c0ec2abb3a223b4)},
    {"random:va_bits=32", UINT64_C(0x8af0b7b2c5dbf524)},
    {"zipf", UINT64_C(0xfc73827fdd71dca5)},
    {"zipf:write=0.3,theta=0.5", UINT64_C(0x83c7ad5c2716dd57)},
    {"zipf:va_bits=39", UINT64_C(0xfc18c0bf8d25b821)},
    {"chase", UINT64_C(0x4f93548d989bc926)},
    {"chase:write=0.2,code=16k", UINT64_C(0x6bde9233406bff1b)},
    {"sparse", UINT64_C(0xe33e6462a9a47ffa)},
    {"sparse:write=0.3,va_bits=39", UINT64_C(0xaf73912f6bde2655)},
    {"gc", UINT64_C(0x0c1cd31232a2f773)},
    {"gc:code=64k,va_bits=39", UINT64_C(0xd93d21971f8a873b)},
    {"default", UINT64_C(0xf75f3d1012836f2e)},
    {"default:seed=7", UINT64_C(0x684ab6c4f8b141f1)},
    {"forkserver", UINT64_C(0x65f38e16260d4b79)},
    {"forkserver:seed=3,va_bits=39", UINT64_C(0xe08a9d5d146f6ed4)},
    {"sharedlibs", UINT64_C(0x3d664f6548e38517)},
    {"sharedlibs:seed=5,va_bits=39", UINT64_C(0xda74f4be660ecdbc)},
    {"bigws", UINT64_C(0xe5749efed2b44d48)},
    {"bigws:va_bits=39", UINT64_C(0x84468086da549088)},
    {"cloud", UINT64_C(0xc86db4997ca132a8)},
    {"cloud:va_bits=39", UINT64_C(0xb8d1e037a6e1df86)},
    {"vms", UINT64_C(0x27039bec76948dd1)},
    {"vms:seed=2,va_bits=39", UINT64_C(0x2d1c9826306d2486)},
    {"smp", UINT64_C(0xf1d55fc405de4430)},
    {"smp:procs=4,shared=16m,share=0.25,touch=1,write=0.3,va_bits=39",
     UINT64_C(0xe10b339c3f9e99d2)},
    /* churn: recorded when it was added (issue 17), from the code of that commit */
    {"churn", UINT64_C(0x18eaf8b1c9ca06ce)},
    {"churn:small=64k,large=2m,size=16m,thp=0,va_bits=32", UINT64_C(0xd2a01ac474b4b60a)},
};

static uint64_t fnv(uint64_t h, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* FNV-1a of the first N_EVENTS events (fewer if the stream ends), field by
 * field so padding never counts; the count is hashed last. */
static uint64_t stream_hash(const char *spec)
{
    struct vmsim_source *src = NULL;
    struct vmsim_source_error err;
    int rc = vmsim_source_open_workload(spec, &src, &err);
    if (rc != 0)
        fail_msg("%s: %d: expected %s, found %s", spec, rc, err.expected, err.found);
    struct vmsim_event *ev = malloc(BATCH * sizeof *ev);
    assert_non_null(ev);
    uint64_t h = UINT64_C(0xcbf29ce484222325), n = 0;
    while (n < N_EVENTS) {
        size_t want = N_EVENTS - n < BATCH ? (size_t)(N_EVENTS - n) : BATCH;
        long got = vmsim_source_next(src, ev, want);
        assert_true(got >= 0);
        if (got == 0)
            break;
        for (long i = 0; i < got; i++) {
            const struct vmsim_event *e = &ev[i];
            h = fnv(h, e->type, 1);
            h = fnv(h, e->kind, 1);
            h = fnv(h, e->cpu, 2);
            h = fnv(h, e->pid, 4);
            h = fnv(h, e->addr, 8);
            h = fnv(h, e->len, 8);
            h = fnv(h, e->file, 4);
            h = fnv(h, e->pgoff, 4);
        }
        n += (uint64_t)got;
    }
    vmsim_source_close(src);
    free(ev);
    return fnv(h, n, 8);
}

/* Every workload in the table has at least its default spec here, so a
 * workload added without a recorded hash fails this test. */
static void test_every_workload_listed(void **state)
{
    (void)state;
    for (size_t w = 0; vmsim_workload_names[w]; w++) {
        bool found = false;
        for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
            found |= strcmp(expected[i].spec, vmsim_workload_names[w]) == 0;
        if (!found)
            fail_msg("workload %s has no recorded hash", vmsim_workload_names[w]);
    }
}

static void test_hashes(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        uint64_t h = stream_hash(expected[i].spec);
        if (getenv("VMSIM_PRINT_HASHES"))
            printf("    {\"%s\", UINT64_C(%#018llx)},\n", expected[i].spec,
                   (unsigned long long)h);
        if (h != expected[i].hash) {
            print_error("%s: stream hash %#018llx, recorded %#018llx\n", expected[i].spec,
                        (unsigned long long)h, (unsigned long long)expected[i].hash);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_workload_listed),
        cmocka_unit_test(test_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
