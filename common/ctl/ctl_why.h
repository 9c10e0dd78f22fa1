/* ctl_why.h - `alexusctl incidents why` (ctl_why.c). */
#ifndef AX_CTL_WHY_H
#define AX_CTL_WHY_H

#include "ctl.h"

#define WHY_USAGE "incidents why ID --tenant NAME [--json]"

/* argv[0] is "why". */
int ctl_incidents_why(struct ctl *c, int argc, char **argv);

#endif /* AX_CTL_WHY_H */
