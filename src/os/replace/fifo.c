/* FIFO: the victim is the frame resident longest, the list's head. New
 * frames join at the tail and references change nothing (Belady's anomaly,
 * tests/test_replace.c). */
#include "os/replace/replace.h"

const struct replace_ops replace_fifo = {
    .victim = replace_victim_oldest,
};
