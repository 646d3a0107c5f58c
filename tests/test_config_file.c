/* Configurations as files (issue 18, items 3 and 7): vmsim_config_from_json
 * and `vmsim run --config`, `vmsim presets --dump`, the JSON's provenance.
 *
 * The referees: for the round trip, the run that wrote the file (every
 * value of the second run's JSON must equal the first's, so a setting the
 * reader or the writer drops shows up as a difference); for the reader,
 * values written by hand into the file and expected by hand in the struct;
 * for --dump, the --machine option's own path; for the cost model, the
 * formula cycles = accesses x access when every other cost is zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define GOLDEN_DIR VMSIM_SOURCE_DIR "/tests/golden"

static char *temp_text(const char *text)
{
    return write_temp(text, strlen(text), ".json");
}

/* ---- the library's reader ------------------------------------------------ */

static const char hand_config[] =
    "{\"machine\": \"hand\", \"pt\": \"hashed\",\n"
    " \"geometry\": {\"name\": \"g39\", \"va_bits\": 39, \"page_size\": 4096, \"levels\": 3,\n"
    "   \"pte_bytes\": 8, \"bits_root_first\": [9, 9, 9], \"leaf_page_sizes\": [4096, 2097152]},\n"
    " \"tlb\": [{\"name\": \"l1d\", \"side\": \"d\", \"replacement\": \"random\", \"latency\": 1,\n"
    "          \"arrays\": [{\"entries\": 64, \"ways\": 4, \"page_sizes\": [4096]},\n"
    "                     {\"entries\": 32, \"ways\": 32, \"page_sizes\": [2097152]}]},\n"
    "         {\"name\": \"l2\", \"side\": \"u\", \"replacement\": \"lru\", \"latency\": 9,\n"
    "          \"arrays\": [{\"entries\": 1024, \"ways\": 8, \"page_sizes\": [4096, 2097152]}]}],\n"
    " \"pwc\": {\"mode\": \"split\", \"l3\": {\"entries\": 4, \"ways\": 2}, \"latency\": 2},\n"
    " \"cost\": {\"access\": 3, \"pt_ref\": 40, \"walker\": \"sw\"},\n"
    " \"kernel\": {\"swap_bytes\": 0, \"replace\": \"fifo\", \"thp\": \"madvise\", \"strict\": true,\n"
    "            \"vipt_sets\": 64, \"vipt_block\": 64},\n"
    " \"phys_bytes\": 67108864, \"cpus\": 2, \"asids\": false, \"anon_page_size\": 2097152,\n"
    " \"seed\": 77, \"warmup\": 500, \"threads\": 2, \"locks\": \"seqcount\",\n"
    " \"nested\": {\"pt\": \"radix\", \"host_mem_bytes\": 134217728, \"host_page_size\": 2097152,\n"
    "            \"tlb\": {\"entries\": 16, \"ways\": 4}, \"tlb_latency\": 1,\n"
    "            \"migrate\": {\"at\": 1000, \"max_rounds\": 5}},\n"
    " \"cache\": {\"levels\": [{\"name\": \"l1\", \"sets\": 64, \"ways\": 8, \"line\": 64,\n"
    "              \"latency\": 4, \"side\": \"d\", \"shared\": false}],\n"
    "           \"dram\": 200, \"row\": {\"banks\": 8, \"bytes\": 8192, \"hit\": 90}, \"data\": true}}\n";

static void test_reader_fields(void **state)
{
    (void)state;
    struct vmsim_config cfg, def;
    vmsim_config_default(&cfg);
    def = cfg;
    char why[256];
    assert_int_equal(vmsim_config_from_json(hand_config, &cfg, why, sizeof why), VMSIM_OK);
    assert_string_equal(cfg.machine, "hand");
    assert_string_equal(cfg.pt, "hashed");
    assert_string_equal(cfg.geom.name, "g39");
    assert_int_equal(cfg.geom.va_bits, 39);
    assert_int_equal(cfg.geom.page_shift, 12);
    assert_int_equal(cfg.geom.levels, 3);
    assert_int_equal(cfg.geom.leaf_levels, (1 << 1) | (1 << 2)); /* 2 MiB = level 2 */
    assert_int_equal(cfg.ntlb, 2);
    assert_string_equal(cfg.tlb[0].name, "l1d");
    assert_int_equal(cfg.tlb[0].side, VMSIM_SIDE_DATA);
    assert_int_equal(cfg.tlb[0].repl, VMSIM_REPL_RANDOM);
    assert_int_equal(cfg.tlb[0].narrays, 2);
    assert_int_equal(cfg.tlb[0].array[1].entries, 32);
    assert_int_equal(cfg.tlb[0].array[1].page_shifts, 1ull << 21);
    assert_int_equal(cfg.tlb[1].latency, 9);
    assert_int_equal(cfg.tlb[1].array[0].page_shifts, (1ull << 12) | (1ull << 21));
    assert_false(cfg.pwc.unified_mode);
    assert_int_equal(cfg.pwc.level[3].entries, 4);
    assert_int_equal(cfg.pwc.level[4].entries, 0); /* a mode given: only the levels listed */
    assert_int_equal(cfg.pwc.level[2].entries, 0);
    assert_int_equal(cfg.pwc.latency, 2);
    assert_int_equal(cfg.cost.access, 3);
    assert_int_equal(cfg.cost.pt_ref, 40);
    assert_int_equal(cfg.cost.fault, def.cost.fault); /* left out: kept */
    assert_true(cfg.sw_walk);
    assert_int_equal(cfg.swap_bytes, 0);
    assert_int_equal(cfg.replace, VMSIM_REPLACE_FIFO);
    assert_int_equal(cfg.thp, VMSIM_THP_MADVISE);
    assert_true(cfg.strict);
    assert_int_equal(cfg.vipt_sets, 64);
    assert_int_equal(cfg.handler_frame, def.handler_frame);
    assert_int_equal(cfg.phys_bytes, 64ull << 20);
    assert_int_equal(cfg.ncpus, 2);
    assert_false(cfg.asids);
    assert_int_equal(cfg.anon_page_shift, 21);
    assert_int_equal(cfg.seed, 77);
    assert_int_equal(cfg.warmup, 500);
    assert_int_equal(cfg.threads, 2);
    assert_int_equal(cfg.locks, VMSIM_LOCKS_SEQCOUNT);
    assert_true(cfg.nested.on);
    assert_int_equal(cfg.nested.mem_bytes, 0); /* 2 x 64 MiB: the default, written resolved */
    assert_int_equal(cfg.nested.page_shift, 21);
    assert_string_equal(cfg.nested.geom.name, "g39"); /* no geometry: the guest's, as --nested */
    assert_int_equal(cfg.nested.tlb.entries, 16);
    assert_int_equal(cfg.nested.migrate.at, 1000);
    assert_int_equal(cfg.nested.migrate.max_rounds, 5);
    assert_int_equal(cfg.nested.migrate.link_bytes, 1250000000ull); /* --migrate's default */
    assert_int_equal(cfg.mem.ncaches, 1);
    assert_int_equal(cfg.mem.cache[0].side, VMSIM_SIDE_DATA);
    assert_int_equal(cfg.mem.dram, 200);
    assert_int_equal(cfg.mem.dram_row, 8192);
    assert_true(cfg.mem.data);
}

/* A file of one key changes that field and nothing else; a whole report
 * (the config under "config") reads as its config object. */
static void test_reader_partial(void **state)
{
    (void)state;
    struct vmsim_config cfg, want;
    vmsim_config_default(&cfg);
    want = cfg;
    want.ncpus = 3;
    assert_int_equal(vmsim_config_from_json("{\"cpus\": 3}", &cfg, NULL, 0), VMSIM_OK);
    assert_memory_equal(&cfg, &want, sizeof cfg);
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_config_from_json("{\"source\": \"x\", \"accesses\": 5, \"config\": "
                                            "{\"cpus\": 3}}", &cfg, NULL, 0), VMSIM_OK);
    assert_memory_equal(&cfg, &want, sizeof cfg);
    /* a 3-level geometry without page-walk caches: the preset's l4 cache
     * goes (it would cache a level the tree lacks), l3 and l2 stay */
    vmsim_config_default(&cfg);
    want = cfg;
    assert_int_not_equal(want.pwc.level[4].entries, 0);
    assert_int_equal(vmsim_config_from_json(
                         "{\"geometry\": {\"name\": \"g\", \"va_bits\": 39, \"page_size\": 4096, "
                         "\"levels\": 3, \"pte_bytes\": 8, \"bits_root_first\": [9, 9, 9], "
                         "\"leaf_page_sizes\": [4096]}}", &cfg, NULL, 0), VMSIM_OK);
    assert_int_equal(cfg.geom.levels, 3);
    assert_int_equal(cfg.geom.leaf_levels, 1 << 1);
    assert_int_equal(cfg.pwc.level[4].entries, 0);
    assert_memory_equal(&cfg.pwc.level[3], &want.pwc.level[3], sizeof cfg.pwc.level[3]);
    assert_memory_equal(&cfg.pwc.level[2], &want.pwc.level[2], sizeof cfg.pwc.level[2]);
}

/* Every error names the key path, says what was expected and what was
 * found, and leaves the config as it was. */
static void test_reader_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"{\"tlb\": [{\"name\": \"a\", \"arrays\": [{\"entries\": 4, \"ways\": 4, \"page_sizes\": "
         "[4096]}]}, {\"name\": \"b\", \"arrays\": [{\"entries\": 4, \"ways\": \"x\", "
         "\"page_sizes\": [4096]}]}]}",
         "config.tlb[1].arrays[0].ways: expected a positive integer, found \"x\""},
        {"{\"tlb\": [{\"name\": \"a\", \"arrays\": [{\"entries\": 6, \"ways\": 4, \"page_sizes\": "
         "[4096]}]}]}",
         "config.tlb[0].arrays[0].ways: expected ways dividing the entries"},
        {"{\"kernel\": {\"swapp\": 1}}", "config.kernel.swapp: unknown key; expected one of swap_bytes,"},
        {"{\"cpus\": 0}", "config.cpus: expected a number of CPUs from 1 to 64, found 0"},
        {"{\"cpus\": 65}", "config.cpus: expected a number of CPUs from 1 to 64, found 65"},
        {"{\"cpus\": 2.5}", "config.cpus: expected a number of CPUs from 1 to 64, found 2.5"},
        {"{\"asids\": 1}", "config.asids: expected true or false, found 1"},
        {"{\"pt\": \"btree\"}", "config.pt: expected a page-table organization"},
        {"{\"kernel\": {\"replace\": \"mru\"}}", "config.kernel.replace: expected \"clock\", \"fifo\""},
        {"{\"geometry\": {\"leaf_page_sizes\": [4096, 8192]}}",
         "config.geometry.leaf_page_sizes[1]: expected the page size of a level of this geometry, found 8192"},
        {"{\"geometry\": {\"levels\": 5}}",
         "config.geometry.levels: expected the length of bits_root_first (4), found 5"},
        {"{\"anon_page_size\": 3000}", "config.anon_page_size: expected 1 (the base page) or a power-of-two"},
        {"{\"nested\": {\"migrate\": {\"link_bytes\": 5}}}",
         "config.nested.migrate.at: expected a positive number of accesses, found nothing"},
        {"{\"cache\": {\"levels\": [], \"dram\": 0}}", "config.cache.dram: expected a positive number"},
        {"{\"pwc\": {\"mode\": \"unified\", \"l2\": {\"entries\": 4, \"ways\": 4}}}",
         "config.pwc.l2: expected no split level with mode \"unified\""},
        {"[1, 2]", "config: expected an object, found [1,2]"},
        {"{\"tlb\": [{\"name\": \"a.b\", \"arrays\": []}]}",
         "config.tlb[0].name: expected a name of letters, digits, '_' and '-', found \"a.b\""},
        {"{\"tlb\": [{\"arrays\": []}]}", "config.tlb[0].name: expected the level's name, found nothing"},
        {"{\"cpus\": 2, \"cpus\": 3}", "line 1"},
        {"{\"cpus\": ", "line 1, column"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vmsim_config cfg, was;
        vmsim_config_default(&cfg);
        was = cfg;
        char why[256] = "";
        const int rc = vmsim_config_from_json(cases[i].text, &cfg, why, sizeof why);
        if (rc == VMSIM_OK || !strstr(why, cases[i].why))
            fail_msg("%s: rc %d, why \"%s\"; expected \"%s\"", cases[i].text, rc, why, cases[i].why);
        assert_memory_equal(&cfg, &was, sizeof cfg);
        /* a short buffer or none: still no overflow, still NUL-terminated */
        char tiny[5] = "xxxx";
        assert_int_not_equal(vmsim_config_from_json(cases[i].text, &cfg, tiny, sizeof tiny), VMSIM_OK);
        assert_true(strlen(tiny) < sizeof tiny);
        assert_int_not_equal(vmsim_config_from_json(cases[i].text, &cfg, NULL, 0), VMSIM_OK);
    }
}

/* ---- the round trip through the command line ---------------------------- */

/* Load a JSON file, without what differs between two runs of the same
 * machine by design: "argv" (the command lines differ). */
static json_t *load_result(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s: %s", path, err.text);
    json_object_del(j, "argv");
    return j;
}

/* The first key whose value differs, for the failure message. */
static const char *first_difference(json_t *a, json_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) if (!json_equal(v, json_object_get(b, k))) return k;
    json_object_foreach(b, k, v) if (!json_object_get(a, k)) return k;
    return NULL;
}

/* Run `vmsim run ARGS --json A`, then `vmsim run INPUT --config A --json B`
 * with only the input options of ARGS (--workload, --trace): B must equal A
 * in every value. */
static void roundtrip(const char *name, const char *args)
{
    char *a = temp_path(".json"), *b = temp_path(".json");
    char input[1024] = "";
    /* the input options: "--workload X" or "--trace X" */
    const char *opts[] = {"--workload ", "--trace "};
    for (size_t i = 0; i < 2; i++) {
        const char *p = strstr(args, opts[i]);
        if (p)
            snprintf(input, sizeof input, "%.*s", (int)strcspn(p + strlen(opts[i]), " ") +
                     (int)strlen(opts[i]), p);
    }
    struct cmd_result r = run_vmsim("run --quiet --json %s %s", a, args);
    if (r.status != 0)
        fail_msg("%s: vmsim run %s: %s", name, args, r.err);
    cmd_result_free(&r);
    r = run_vmsim("run --quiet --json %s %s --config %s", b, input, a);
    if (r.status != 0)
        fail_msg("%s: vmsim run %s --config: %s", name, input, r.err);
    cmd_result_free(&r);
    json_t *ja = load_result(a), *jb = load_result(b);
    const char *k = first_difference(ja, jb);
    if (k)
        fail_msg("%s (vmsim run %s): --config of its own JSON differs in \"%s\"", name, args, k);
    json_decref(ja);
    json_decref(jb);
    remove(a);
    remove(b);
    free(a);
    free(b);
}

/* Every golden run (tests/golden/runs.txt: default, presets, every
 * organization, nested, shadow, migration, enclave, VMs, huge pages, data
 * caches, traces), and the settings no golden run uses. Sanitizer builds
 * take every third golden run. */
static void test_roundtrip_goldens(void **state)
{
    (void)state;
    FILE *f = fopen(GOLDEN_DIR "/runs.txt", "r");
    assert_non_null(f);
    char line[2048];
    unsigned n = 0;
#ifdef VMSIM_SANITIZE
    const unsigned every = 3;
#else
    const unsigned every = 1;
#endif
    while (fgets(line, sizeof line, f)) {
        char name[64], args[2048];
        int off = 0;
        if (line[0] == '#' || sscanf(line, "%63s %n", name, &off) != 1 || n++ % every)
            continue;
        size_t o = 0;
        for (const char *p = line + off; *p && *p != '\n' && o + 200 < sizeof args;) {
            if (!strncmp(p, "DATA", 4)) {
                o += (size_t)snprintf(args + o, sizeof args - o, "%s", VMSIM_TEST_DATA);
                p += 4;
            } else if (!strncmp(p, "GOLDEN", 6)) {
                o += (size_t)snprintf(args + o, sizeof args - o, "%s", GOLDEN_DIR);
                p += 6;
            } else {
                args[o++] = *p++;
            }
        }
        args[o] = '\0';
        roundtrip(name, args);
    }
    fclose(f);
    assert_true(n >= 40);
}

static void test_roundtrip_other_settings(void **state)
{
    (void)state;
    static const char *const runs[][2] = {
        {"costs", "--workload random:n=5000,size=64m --cost access=3,pt_ref=41,fault=777,io=5,"
                  "pwc=2,trap=9,sw_ref=4,vmexit=55 --fault-stack 1k/3k"},
        {"warmup", "--workload random:n=5000,size=64m --warmup 1000"},
        {"tlb-pwc", "--workload zipf:n=5000,size=64m --tlb l1d=16x4@4k/d:1:random,"
                    "l2=64x64@4k+2m:7 --pwc unified=8x2 --seed 9"},
        {"geometry", "--workload random:n=5000,size=16m --geometry sv39 --pwc l3=2x2,l2=8x4"},
        {"hashed-opts", "--workload random:n=5000,size=64m --pt hashed:load=0.5"},
        {"vipt-strict", "--workload sharedlibs:procs=3,libs=2,n=5000 --vipt 64x64 --strict "
                        "--no-asid --cpus 2"},
        {"share", "--workload sharedlibs:procs=3,libs=2,n=5000 --share-tables"},
        {"row", "--workload random:n=5000,size=64m --cache l1d=64x8x64/d:4,l2=512x8x64:12,"
                "dram=200,row=8x8k:90"},
        {"host", "--workload random:n=5000,size=64m --mem 64m --nested x86-64-5l --host-pt hashed "
                 "--host-mem 512m --host-pwc unified=4x4 --ntlb 8x2"},
        {"compact", "--workload churn:n=5000 --mem 64m --thp always --compact on"},
        {"khugepaged", "--workload random:n=5000,size=16m --thp always --khugepaged "
                       "every=500,pages=1024,max_ptes_none=64"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        roundtrip(runs[i][0], runs[i][1]);
}

/* Options after --config change it; options before it are replaced. */
static void test_order(void **state)
{
    (void)state;
    char *cfg = temp_text("{\"cpus\": 5, \"seed\": 11}");
    struct cmd_result r = run_vmsim("run --quiet --json - --workload seq:n=10 --cpus 3 --config %s "
                                    "--seed 12", cfg);
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    uint64_t v;
    assert_true(json_path(j, "config.cpus", &v));
    assert_int_equal(v, 5); /* the file replaced --cpus 3 */
    assert_true(json_path(j, "config.seed", &v));
    assert_int_equal(v, 12); /* --seed 12 after it replaced the file's */
    json_decref(j);
    cmd_result_free(&r);
    /* --machine and --geometry, which otherwise apply first wherever they
     * stand, apply at their place after a --config: the file of a 5-level
     * zen4 run, then --machine skylake --geometry x86-64, is the default */
    char *a = temp_path(".json");
    r = run_vmsim("run --quiet --json %s --workload seq:n=10 --machine zen4 --geometry x86-64-5l", a);
    assert_int_equal(r.status, 0);
    cmd_result_free(&r);
    struct cmd_result d = run_vmsim("run --quiet --json - --workload seq:n=10");
    r = run_vmsim("run --quiet --json - --workload seq:n=10 --config %s --machine skylake "
                  "--geometry x86-64", a);
    assert_int_equal(r.status, 0);
    assert_int_equal(d.status, 0);
    json_t *jd = json_loads(d.out, 0, NULL), *jr = json_loads(r.out, 0, NULL);
    json_object_del(jd, "argv");
    json_object_del(jr, "argv");
    const char *k = first_difference(jd, jr);
    if (k)
        fail_msg("--config zen4-5l.json --machine skylake --geometry x86-64 differs from the "
                 "default in \"%s\"", k);
    json_decref(jd);
    json_decref(jr);
    cmd_result_free(&d);
    cmd_result_free(&r);
    remove(a);
    free(a);
    remove(cfg);
    free(cfg);
}

/* Every cost but the access's zero, no TLB latency: cycles is accesses x
 * the access cost, whatever the walks and faults did. */
static void test_cost_from_file(void **state)
{
    (void)state;
    static const char text[] =
        "{\"cost\": {\"access\": 7, \"pt_ref\": 0, \"fault\": 0, \"io\": 0, \"pwc\": 0, "
        "\"trap\": 0, \"sw_ref\": 0, \"vmexit\": 0},"
        " \"tlb\": [{\"name\": \"t\", \"latency\": 0, \"arrays\": [{\"entries\": 4, \"ways\": 4, "
        "\"page_sizes\": [4096]}]}]}";
    char *cfg = temp_text(text);
    struct cmd_result r = run_vmsim("run --quiet --json - --workload random:n=3000,size=64m "
                                    "--config %s", cfg);
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    uint64_t cycles, accesses, hits, misses;
    assert_true(json_path(j, "cycles", &cycles));
    assert_true(json_path(j, "accesses", &accesses));
    assert_true(json_path(j, "tlb.t.hits", &hits));
    assert_true(json_path(j, "tlb.t.misses", &misses));
    assert_int_equal(accesses, 3000);
    assert_int_equal(cycles, 7 * 3000);
    assert_int_equal(hits + misses, 3000); /* one level, one lookup per 8-byte access */
    json_decref(j);
    cmd_result_free(&r);
    remove(cfg);
    free(cfg);
}

/* vmsim run --config FILE with text in FILE: status 2 and what stderr must
 * hold (also the file's name when named). */
static void expect_config_refused(const char *text, const char *want, bool named)
{
    char *f = temp_text(text);
    struct cmd_result r = run_vmsim("run --quiet --workload seq:n=10 --config %s", f);
    assert_int_equal(r.status, 2);
    if (named)
        expect_in("stderr", r.err, f);
    expect_in("stderr", r.err, want);
    cmd_result_free(&r);
    remove(f);
    free(f);
}

/* Bad files: status 2, the file's name, the key path; never a crash. */
static void test_cli_errors(void **state)
{
    (void)state;
    static const char bad[] = "{\"tlb\": [{\"name\": \"a\", \"arrays\": [{\"entries\": 4, "
                              "\"ways\": 4, \"page_sizes\": [4096]}]}, {\"name\": \"b\", "
                              "\"arrays\": [{\"entries\": 4, \"ways\": \"x\", \"page_sizes\": "
                              "[4096]}]}]}";
    expect_config_refused(
        bad, "config.tlb[1].arrays[0].ways: expected a positive integer, found \"x\"", true);
    struct cmd_result r = run_vmsim("run --quiet --workload seq:n=10 --config /nonexistent/c.json");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "--config: cannot read /nonexistent/c.json");
    cmd_result_free(&r);
    expect_config_refused("{\"cpus\": 2,\n \"x\" }", "line 2", false);
    /* a file the reader takes but the machine refuses: cli_config_finish says why */
    expect_config_refused("{\"pt\": \"hashed\", \"kernel\": {\"share_tables\": true}}",
                          "--share-tables: only the radix organization", false);
}

/* vmsim presets --dump NAME | vmsim run --config - is --machine NAME. */
static void test_dump_presets(void **state)
{
    (void)state;
    for (size_t i = 0; vmsim_machine_names[i]; i++) {
        char *a = temp_path(".json"), *b = temp_path(".json");
        struct cmd_result r = run_vmsim("presets --dump %s | " VMSIM_BIN " run --quiet --json %s "
                                        "--workload zipf:n=3000,size=64m --config -",
                                        vmsim_machine_names[i], a);
        if (r.status != 0)
            fail_msg("--dump %s: %s", vmsim_machine_names[i], r.err);
        cmd_result_free(&r);
        r = run_vmsim("run --quiet --json %s --workload zipf:n=3000,size=64m --machine %s", b,
                      vmsim_machine_names[i]);
        assert_int_equal(r.status, 0);
        cmd_result_free(&r);
        json_t *ja = load_result(a), *jb = load_result(b);
        const char *k = first_difference(ja, jb);
        if (k)
            fail_msg("--dump %s | --config - differs from --machine in \"%s\"",
                     vmsim_machine_names[i], k);
        json_decref(ja);
        json_decref(jb);
        remove(a);
        remove(b);
        free(a);
        free(b);
    }
    struct cmd_result r = run_vmsim("presets --dump pentium");
    assert_int_equal(r.status, 2);
    expect_in("stderr", r.err, "found \"pentium\"");
    cmd_result_free(&r);
}

/* "vmsim": version and git revision as --version says them, schema 1;
 * "argv" as given. */
static void test_provenance(void **state)
{
    (void)state;
    struct cmd_result v = run_vmsim("--version");
    assert_int_equal(v.status, 0);
    char version[64] = "", rev[64] = "";
    assert_int_equal(sscanf(v.out, "vmsim %63s (%63[^)])", version, rev), 2);
    cmd_result_free(&v);
    struct cmd_result r = run_vmsim("run --quiet --json - --workload seq:n=10 --seed 4");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    json_t *p = json_object_get(j, "vmsim");
    assert_string_equal(json_string_value(json_object_get(p, "version")), version);
    assert_int_equal(json_integer_value(json_object_get(p, "schema")), 1);
    const char *git = json_string_value(json_object_get(p, "git"));
    assert_non_null(git);
    assert_string_equal(git, rev); /* the same build's revision */
    static const char *const argv[] = {"vmsim", "run", "--quiet", "--json", "-",
                                       "--workload", "seq:n=10", "--seed", "4"};
    json_t *a = json_object_get(j, "argv");
    assert_int_equal(json_array_size(a), sizeof argv / sizeof argv[0]);
    for (size_t i = 0; i < sizeof argv / sizeof argv[0]; i++)
        assert_string_equal(json_string_value(json_array_get(a, i)), argv[i]);
    json_decref(j);
    cmd_result_free(&r);
}

/* ---- statistics defined (issue 18, item 7) -------------------------------- */

/* page_tables.resizes and .migrated of a hashed table (docs/stats.md): one
 * process maps P = B x 2^k pages one after another into a table of B
 * buckets with load=1. A resize starts when the entries pass the buckets n
 * (the (n+1)-th entry, inserted in the old table) and doubles them: at n =
 * B, 2B, ..., 2^(k-1) B, so k resizes (P entries never pass 2^k B). Each
 * moves every entry of its old table, n + 1: in all B (2^k - 1) + k =
 * P - B + k, however many buckets each operation drains (step). radix
 * never resizes. */
static void test_resize_statistics(void **state)
{
    (void)state;
    static const struct {
        unsigned pages, buckets, k;
        const char *more;
    } runs[] = {{1024, 16, 6, ""}, {1024, 256, 2, ",step=1"}, {4096, 16, 8, ",step=64"},
                {4096, 256, 4, ""}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct cmd_result r = run_vmsim("run --quiet --json - --workload seq:n=%u,stride=4096 "
                                        "--pt hashed:buckets=%u,load=1%s",
                                        runs[i].pages, runs[i].buckets, runs[i].more);
        assert_int_equal(r.status, 0);
        json_t *j = json_loads(r.out, 0, NULL);
        uint64_t resizes, migrated, evicted;
        assert_true(json_path(j, "page_tables.resizes", &resizes));
        assert_true(json_path(j, "page_tables.migrated", &migrated));
        assert_true(json_path(j, "page_tables.evicted_entries", &evicted));
        assert_int_equal(resizes, runs[i].k);
        assert_int_equal(migrated, runs[i].pages - runs[i].buckets + runs[i].k);
        assert_int_equal(evicted, 0); /* ppc only */
        json_decref(j);
        cmd_result_free(&r);
    }
    struct cmd_result r = run_vmsim("run --quiet --json - --workload seq:n=4096,stride=4096");
    json_t *j = json_loads(r.out, 0, NULL);
    uint64_t v;
    const char *const keys[] = {"page_tables.resizes", "page_tables.migrated",
                                "page_tables.evicted_entries"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(json_path(j, keys[i], &v));
        assert_int_equal(v, 0);
    }
    json_decref(j);
    cmd_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_fields),
        cmocka_unit_test(test_reader_partial),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_roundtrip_goldens),
        cmocka_unit_test(test_roundtrip_other_settings),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_cost_from_file),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_dump_presets),
        cmocka_unit_test(test_provenance),
        cmocka_unit_test(test_resize_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
