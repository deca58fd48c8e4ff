/* The libyaml table of yaml_api.h, filled by dlopen() on first use. */
#define BERTH_YAML_API_IMPL 1
#include "app/yaml_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__yaml_api, berth__yaml, BERTH_YAML_FUNCTIONS, "libyaml-0.so.2", "libyaml-0-2")
