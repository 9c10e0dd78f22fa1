/* ctl_replay.h - `alexusctl replay` (ctl_replay.c). */
#ifndef AX_CTL_REPLAY_H
#define AX_CTL_REPLAY_H

#include "ctl.h"

#define REPLAY_USAGE "replay --tenant NAME --from TS --to TS [--rules FILE] [--json]"

/* argv[0] is "replay". */
int ctl_replay(struct ctl *c, int argc, char **argv);

#endif /* AX_CTL_REPLAY_H */
