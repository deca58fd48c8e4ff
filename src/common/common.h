/* common/ — the base every berth module stands on: errors, memory, buffers,
 * string views and vectors, cleanup attributes, JSON, SHA-256, safe
 * filesystem access, process spawning and logging. This is the module's one
 * public header; it includes the focused headers below. */
#ifndef BERTH_COMMON_H
#define BERTH_COMMON_H

#include "common/alloc.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/encode.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/size.h"
#include "common/spawn.h"
#include "common/strv.h"

#endif
