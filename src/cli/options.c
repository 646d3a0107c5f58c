/* Reading a command's options: getopt_long with whole option names only.
 *
 * GNU getopt_long accepts any unique prefix of a long option ("--tl" for
 * "--tlb", "--me" for "--mem"). That is convenient at a prompt but makes a
 * script's meaning depend on which options exist: the day a second option
 * starts with "--me", "--me 8g" stops working, and a typo that happens to be
 * a prefix is taken silently. vmsim refuses abbreviations instead, checking
 * the token getopt_long matched against the option's whole name. Every
 * command parses through cli_getopt, so the rule and the message for a bad
 * option live here once, and starts with cli_options_begin. */
#include <string.h>

#include "cli/cli.h"

/* The argv element that named the long option just returned: the one
 * before its value when the value was a separate word. */
static const char *option_token(char **argv, const struct option *o)
{
    if (o->has_arg == required_argument && optarg && optind >= 2 && optarg == argv[optind - 1])
        return argv[optind - 2];
    return argv[optind - 1];
}

int cli_options_begin(struct vmsim_config *cfg, int argc, char **argv)
{
    optind = 1; /* getopt keeps its place in globals: start at argv[1] */
    opterr = 0;
    return cfg ? cli_config_init(cfg, argc, argv) : 0;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               int *longindex, const char *cmd)
{
    int idx = -1;
    opterr = 0; /* the messages are ours, in the house form */
    const int o = getopt_long(argc, argv, shortopts, longopts, &idx);
    if (longindex)
        *longindex = idx;
    if (o == '?' && optopt == 'h') /* -h: every command's --help */
        for (const struct option *l = longopts; l && l->name; l++)
            if (!strcmp(l->name, "help") && !l->flag)
                return l->val;
    if (o == '?' || o == ':') {
        cli_usage("%s: unknown option or missing value: \"%s\" (see vmsim %s --help)", cmd,
                  argv[optind - 1], cmd);
        return '?';
    }
    if (o == -1 || idx < 0)
        return o;
    const struct option *opt = &longopts[idx];
    const char *tok = option_token(argv, opt);
    const size_t len = strcspn(tok + 2, "=");
    if (strncmp(tok, "--", 2) != 0 || len != strlen(opt->name) ||
        strncmp(tok + 2, opt->name, len) != 0) {
        cli_usage("%s: expected a whole option name, found \"--%.*s\", an abbreviation of --%s "
                  "(vmsim does not complete option names)",
                  cmd, (int)len, tok + 2, opt->name);
        return '?';
    }
    return o;
}
