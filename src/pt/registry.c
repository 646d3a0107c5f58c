/* The one list of page-table organizations. Adding one is an entry here
 * plus its file. */
#include <string.h>

#include "pt/pt.h"

static const struct pt_ops *const organizations[] = {&pt_radix_ops};

const struct pt_ops *pt_find(const char *name)
{
    for (size_t i = 0; i < sizeof organizations / sizeof organizations[0]; i++)
        if (strcmp(organizations[i]->name, name) == 0)
            return organizations[i];
    return NULL;
}
