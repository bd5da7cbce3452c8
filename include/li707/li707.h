/* li707 - ETSI TS 103 707 handover library: umbrella header. */
#ifndef LI707_LI707_H
#define LI707_LI707_H

#include "li707/error.h"
#include "li707/model.h"
#include "li707/codec.h"
#include "li707/schema.h"
#include "li707/util.h"
#include "li707/hash.h"

#define LI707_VERSION "0.1.0"

#endif
