/* li707 common - where li707's own schemas are when no directory is given.
 *
 * The library's default (li707_schema_set_load with project_dir NULL) is the compiled-in
 * installed directory. A program that is not installed there (run from the build tree, or
 * installed under another prefix) finds its schemas relative to its executable instead. */
#ifndef LX_COMMON_SCHEMA_DIR_H
#define LX_COMMON_SCHEMA_DIR_H

#include <stddef.h>

/* The relative path of the schemas below a prefix, as installed and as the build copies them. */
#define LX_SCHEMA_SUBDIR "share/li707/schemas"

/* Finds li707's own schema directory (the one holding ts_103707.xsd), first of:
 *   1. $LI707_SCHEMA_DIR when set and not empty (taken as it is, even if it has no schema);
 *   2. EXEDIR/../share/li707/schemas  (an installed tree, whatever its prefix);
 *   3. EXEDIR/share/li707/schemas     (the build tree: the build copies the schemas there);
 *   4. installed, the compiled-in installed directory, when it holds ts_103707.xsd.
 * exe is the executable's path (NULL: /proc/self/exe); installed may be NULL. Writes the
 * directory into buf (cap bytes) and returns 0; -ENOENT when no candidate holds the schema
 * (buf then names `installed`, or is empty, so the caller can report it); -ENAMETOOLONG
 * when a path does not fit. */
int lx_schema_dir_find(const char *exe, const char *installed, char *buf, size_t cap);

#endif
