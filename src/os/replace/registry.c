/* The table of replacement policies: REPLACE_POLICIES (replace.h) gives
 * both the ops by enum value and the public names, so the two cannot drift. */
#include "os/replace/replace.h"

#define REPLACE_ENTRY(n) &replace_##n,
static const struct replace_ops *const policies[] = {REPLACE_POLICIES(REPLACE_ENTRY)};
#undef REPLACE_ENTRY

#define REPLACE_NAME(n) #n,
const char *const vmsim_replace_names[] = {REPLACE_POLICIES(REPLACE_NAME) NULL};
#undef REPLACE_NAME

const struct replace_ops *replace_find(unsigned policy)
{
    return policy < sizeof policies / sizeof policies[0] ? policies[policy] : NULL;
}
