/* No replacement: a full memory is out of memory (faults_oom). */
#include "os/replace/replace.h"

const struct replace_ops replace_none = {
};
