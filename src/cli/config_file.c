/* --config FILE: a machine read from a JSON file (the "config" object of a
 * run's --json output, or a file holding just that object; `vmsim presets
 * --dump NAME` writes one). The reading is the library's
 * (vmsim_config_from_json); this says which file and where it went wrong.
 * The file is applied where --config stands among the options: what it
 * holds replaces what the options before it set, and options after it
 * change it (docs/cli.md, "Configurations as files"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CONFIG_FILE_MAX (16u << 20) /* a config is a few KiB; a larger file is a mistake */

int cli_config_file(struct vmsim_config *cfg, const char *path)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "r");
    if (!f)
        return cli_usage("--config: cannot read %s: %s", path, strerror(errno));
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    const int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!text)
        return cli_fail("out of memory");
    if (err || n > CONFIG_FILE_MAX) {
        free(text);
        return err ? cli_usage("--config: cannot read %s", path)
                   : cli_usage("--config: %s: expected a JSON configuration of at most %u bytes, "
                               "found a larger file", path, CONFIG_FILE_MAX);
    }
    text[n] = '\0';
    if (strlen(text) != n) {
        free(text);
        return cli_usage("--config: %s: expected JSON text, found a NUL byte", path);
    }
    char why[512];
    const int rc = vmsim_config_from_json(text, cfg, why, sizeof why);
    free(text);
    if (rc != VMSIM_OK)
        return cli_usage("--config: %s: %s", path, why);
    return 0;
}
