/* The library API that bindings build on (docs/library.md): machine options
 * by name (vmsim_config_option), the check of them together
 * (vmsim_config_finish), vmsim_create's reason (vmsim_create_why) and the
 * JSON document (vmsim_write_json).
 *
 * The referees: the command line's own option table (CLI_CONFIG_OPTIONS,
 * getopt's, not the library's) and `vmsim run --json`, a separate program
 * that must build the same machine from the same words; messages written
 * out here by hand from docs/cli.md's forms ("--OPT: expected ..., found
 * ..."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "testutil.h"

static bool in_list(const char *const *names, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* The library's names are exactly the CLI's machine options, each taking a
 * value exactly when getopt's table says it does; docs/cli.md documents each. */
static void test_option_names_are_the_cli_options(void **state)
{
    (void)state;
    static const struct option cli[] = {CLI_CONFIG_OPTIONS, {0, 0, 0, 0}};
    const char *const *names = vmsim_config_option_names();
    size_t ncli = 0, nlib = 0;
    for (const struct option *o = cli; o->name; o++, ncli++) {
        if (!in_list(names, o->name))
            fail_msg("CLI option --%s is not a library option", o->name);
        assert_int_equal(vmsim_config_option_takes_value(o->name), o->has_arg == required_argument);
    }
    char *doc = read_file(VMSIM_SOURCE_DIR "/docs/cli.md", NULL);
    assert_non_null(doc);
    for (; names[nlib]; nlib++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", names[nlib]);
        expect_in("docs/cli.md", doc, opt);
    }
    free(doc);
    assert_int_equal(nlib, ncli);
    assert_int_equal(vmsim_config_option_takes_value("tbl"), VMSIM_ENOENT);
}

static void expect_error(struct vmsim_config *cfg, const char *name, const char *value, int code,
                         const char *message)
{
    char why[1024] = "unset";
    struct vmsim_config before = *cfg;
    const int rc = vmsim_config_option(cfg, name, value, why, sizeof why);
    if (rc != code || strcmp(why, message))
        fail_msg("option %s %s: rc %d why \"%s\"; expected rc %d \"%s\"", name,
                 value ? value : "(none)", rc, why, code, message);
    /* a refused value leaves the configuration as it was */
    assert_memory_equal(&before, cfg, sizeof before);
}

static void test_option_errors(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    expect_error(&cfg, "mem", "12", VMSIM_EINVAL,
                 "--mem: expected a size of at least 1m such as 16g, found \"12\"");
    expect_error(&cfg, "mem", NULL, VMSIM_EINVAL, "--mem: expected a value, found none");
    expect_error(&cfg, "strict", "yes", VMSIM_EINVAL,
                 "--strict: expected no value (a flag), found \"yes\"");
    /* the policies in enum order: docs/kernel.md */
    expect_error(&cfg, "replace", "lfu", VMSIM_EINVAL,
                 "--replace: expected clock, fifo, lru, random, opt or none, found \"lfu\"");
    expect_error(&cfg, "cpus", "0", VMSIM_EINVAL,
                 "--cpus: expected a number of CPUs from 1 to 64, found \"0\"");
    expect_error(&cfg, "machine", "pentium", VMSIM_EINVAL,
                 "--machine: expected a machine preset (see `vmsim presets`), found \"pentium\"");
    char why[2048];
    assert_int_equal(vmsim_config_option(&cfg, "tbl", "64x4", why, sizeof why), VMSIM_ENOENT);
    expect_in("unknown option", why, "--tbl: expected a machine option (machine, pt, geometry, tlb,");
    expect_in("unknown option", why, "found \"tbl\"");
    /* a short buffer truncates, a NULL one is allowed */
    char small[8];
    assert_int_equal(vmsim_config_option(&cfg, "mem", "x", small, sizeof small), VMSIM_EINVAL);
    assert_string_equal(small, "--mem: ");
    assert_int_equal(vmsim_config_option(&cfg, "mem", "x", NULL, 0), VMSIM_EINVAL);
}

static void test_options_set_fields(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char why[512];
    assert_int_equal(vmsim_config_option(&cfg, "mem", "64m", why, sizeof why), 0);
    assert_int_equal(cfg.phys_bytes, 64u << 20);
    assert_string_equal(why, "");
    assert_int_equal(vmsim_config_option(&cfg, "no-asid", NULL, why, sizeof why), 0);
    assert_false(cfg.asids);
    assert_int_equal(vmsim_config_option(&cfg, "replace", "lru", why, sizeof why), 0);
    assert_int_equal(cfg.replace, VMSIM_REPLACE_LRU);
    /* x86-32 has 2 levels: the preset's l4 and l3 page-walk caches go,
     * its l2 stays */
    assert_int_not_equal(cfg.pwc.level[3].entries, 0);
    assert_int_equal(vmsim_config_option(&cfg, "geometry", "x86-32", why, sizeof why), 0);
    assert_int_equal(cfg.geom.levels, 2);
    assert_int_equal(cfg.pwc.level[3].entries, 0);
    assert_int_equal(cfg.pwc.level[4].entries, 0);
    assert_int_not_equal(cfg.pwc.level[2].entries, 0);
    assert_int_equal(vmsim_config_finish(&cfg, why, sizeof why), 0);
    /* a level the geometry lacks, given after it, is the user's: refused */
    assert_int_equal(vmsim_config_option(&cfg, "pwc", "l3=4x4", why, sizeof why), 0);
    assert_int_equal(vmsim_config_finish(&cfg, why, sizeof why), VMSIM_EINVAL);
    assert_string_equal(why, "--pwc: level l3 caches entries of page-table level 3, but geometry "
                             "x86-32 has 2 levels; expected l2..l2 or unified");
}

/* --thp always without --page-size: the smallest huge page of x86-64,
 * 2^(12 + 9) bytes; of x86-32 (10 + 10 bits, 4 MiB PSE pages) 2^22. */
static void test_finish_resolves_huge_page(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    char why[512];
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_config_option(&cfg, "thp", "always", why, sizeof why), 0);
    assert_int_equal(cfg.anon_page_shift, VMSIM_PAGE_HUGE);
    assert_int_equal(vmsim_config_finish(&cfg, why, sizeof why), 0);
    assert_int_equal(cfg.anon_page_shift, 21);
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_config_option(&cfg, "geometry", "x86-32", why, sizeof why), 0);
    assert_int_equal(vmsim_config_option(&cfg, "thp", "always", why, sizeof why), 0);
    assert_int_equal(vmsim_config_finish(&cfg, why, sizeof why), 0);
    assert_int_equal(cfg.anon_page_shift, 22);
    vmsim_config_default(&cfg);
    assert_int_equal(vmsim_config_option(&cfg, "page-size", "1m", why, sizeof why), 0);
    assert_int_equal(vmsim_config_finish(&cfg, why, sizeof why), VMSIM_EINVAL);
    assert_string_equal(why, "--page-size: 1048576 bytes is not a page size of geometry x86-64; "
                             "expected one of 4 KiB, 2 MiB, 1 GiB");
}

/* Counts as --warmup (and --skip, --max) read them: decimal suffixes, whole
 * numbers below 2^63. */
static void test_parse_count(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(vmsim_parse_count("250000", &v), 0);
    assert_int_equal(v, 250000);
    assert_int_equal(vmsim_parse_count("1.5m", &v), 0);
    assert_int_equal(v, 1500000);
    assert_int_equal(vmsim_parse_count("2g", &v), 0);
    assert_int_equal(v, 2000000000);
    assert_int_not_equal(vmsim_parse_count("1.5", &v), 0);  /* not whole */
    assert_int_not_equal(vmsim_parse_count("-1", &v), 0);
    assert_int_not_equal(vmsim_parse_count("10x", &v), 0);
    assert_int_not_equal(vmsim_parse_count("1e19", &v), 0); /* above 2^63 */
}

static void expect_create(const struct vmsim_config *cfg, int code, const char *message)
{
    char why[512] = "unset";
    struct vmsim *sim = NULL;
    const int rc = vmsim_create_why(cfg, &sim, why, sizeof why);
    if (rc != code || strcmp(why, message))
        fail_msg("vmsim_create_why: rc %d \"%s\"; expected rc %d \"%s\"", rc, why, code, message);
    if (sim)
        vmsim_destroy(sim);
    /* vmsim_create gives the same code */
    sim = NULL;
    assert_int_equal(vmsim_create(cfg, &sim), code);
    if (sim)
        vmsim_destroy(sim);
}

static void test_create_why(void **state)
{
    (void)state;
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    cfg.phys_bytes = 64u << 20;
    expect_create(&cfg, VMSIM_OK, "");
    cfg.ncpus = 0;
    expect_create(&cfg, VMSIM_EINVAL, "ncpus (--cpus): expected 1 to 64 CPUs, found 0");
    cfg.ncpus = 1;
    snprintf(cfg.pt, sizeof cfg.pt, "btree");
    expect_create(&cfg, VMSIM_ENOENT,
                  "pt (--pt): expected a page-table organization, found \"btree\"");
    snprintf(cfg.pt, sizeof cfg.pt, "radix");
    cfg.anon_page_shift = 20; /* 1 MiB: no leaf of x86-64 */
    expect_create(&cfg, VMSIM_EINVAL,
                  "anon_page_shift (--page-size): expected a page size of geometry x86-64, "
                  "found 2^20 bytes");
    cfg.anon_page_shift = 0;
    cfg.share_tables = true;
    snprintf(cfg.pt, sizeof cfg.pt, "inverted");
    expect_create(&cfg, VMSIM_EINVAL, "share_tables (--share-tables): expected --pt radix, "
                                      "found --pt inverted");
}

/* Drop what a file's document says about how it was made, not what ran. */
static json_t *load_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("JSON: %s\n%s", err.text, text);
    return j;
}

/* The same words through vmsim_config_option and through `vmsim run`: the
 * same document from vmsim_write_json as from --json, configuration and
 * every statistic. */
static void test_same_machine_as_the_cli(void **state)
{
    (void)state;
    static const char *const opts[][2] = {
        {"machine", "zen3"}, {"geometry", "x86-64-5l"}, {"pwc", "l5=2x2,l3=4x4,l2=16x4"},
        {"mem", "96m"},         {"swap", "64m"},           {"replace", "lru"},
        {"thp", "always"},      {"seed", "7"},             {"cost", "access=2,pt_ref=40"},
        {"no-asid", NULL},      {"cpus", "2"},             {"tlb", "l1=16x4@4k+2m:1,l2=64x8@4k+2m:7"},
    };
    const char *workload = "seq:n=20000,stride=4096";
    char args[2048] = "";
    struct vmsim_config cfg;
    vmsim_config_default(&cfg);
    char why[512];
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (vmsim_config_option(&cfg, opts[i][0], opts[i][1], why, sizeof why))
            fail_msg("%s: %s", opts[i][0], why);
        snprintf(args + strlen(args), sizeof args - strlen(args), " --%s %s", opts[i][0],
                 opts[i][1] ? opts[i][1] : "");
    }
    assert_int_equal(vmsim_config_finish(&cfg, why, sizeof why), 0);
    struct vmsim *sim = NULL;
    assert_int_equal(vmsim_create_why(&cfg, &sim, why, sizeof why), 0);
    struct vmsim_source *src;
    struct vmsim_source_error err;
    assert_int_equal(vmsim_source_open_workload_for(workload, cfg.geom.va_bits, &src, &err), 0);
    struct vmsim_event buf[512];
    long n;
    while ((n = vmsim_source_next(src, buf, 512)) > 0)
        assert_int_equal(vmsim_run(sim, buf, (size_t)n), 0);
    assert_int_equal(n, 0);
    vmsim_source_close(src);
    char *path = temp_path(".json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    char source[128];
    snprintf(source, sizeof source, "workload %s", workload); /* as vmsim run names it */
    assert_int_equal(vmsim_write_json(sim, source, f), 0);
    fclose(f);
    char *lib = read_file(path, NULL);
    unlink(path);
    struct cmd_result r = run_vmsim("run --quiet --workload %s --json %s%s", workload, path, args);
    if (r.status != 0)
        fail_msg("vmsim run: %s", r.err);
    char *cli = read_file(path, NULL);
    unlink(path);
    json_t *a = load_json(lib), *b = load_json(cli);
    json_object_del(b, "argv"); /* the command line: the CLI's document alone has one */
    /* the run did something worth comparing */
    uint64_t walks = 0;
    assert_true(json_path(a, "walks.count", &walks));
    assert_true(walks > 0);
    const char *key;
    json_t *va;
    json_object_foreach(a, key, va) {
        if (!json_equal(va, json_object_get(b, key)))
            fail_msg("vmsim_write_json and vmsim run --json differ at \"%s\":\n%s\n%s", key,
                     json_dumps(va, JSON_COMPACT | JSON_ENCODE_ANY), json_dumps(json_object_get(b, key), JSON_COMPACT | JSON_ENCODE_ANY));
    }
    assert_int_equal(json_object_size(a), json_object_size(b));
    /* a stream it cannot write to */
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(vmsim_write_json(sim, workload, ro), VMSIM_EIO);
    fclose(ro);
    json_decref(a);
    json_decref(b);
    free(lib);
    free(cli);
    free(path);
    cmd_result_free(&r);
    vmsim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_names_are_the_cli_options),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_options_set_fields),
        cmocka_unit_test(test_finish_resolves_huge_page),
        cmocka_unit_test(test_create_why),
        cmocka_unit_test(test_parse_count),
        cmocka_unit_test(test_same_machine_as_the_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
