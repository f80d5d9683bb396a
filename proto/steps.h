/*
 * steps.h: a recipe's steps and the order between them, read the same way by the
 * CLI (recipe.c, before anything is uploaded) and by the helper (plan.c, before a
 * plan starts), so that a recipe the VM would refuse is refused on the laptop first,
 * with the same words.
 *
 * A step is a file steps/NN-name.sh; its name is NN-name.  Its head says two things:
 * the first line must be `#!` (steps run through their own interpreter); then, among
 * the comment and blank lines that follow, each `# needs: NAME...` line (names of
 * other steps, spaces or commas between them, several lines adding up) says which
 * steps must be done or skipped before it starts.  A step with no such line needs
 * the step before it in path order, so a recipe without them keeps its order;
 * `# needs:` with no name lets it start at once.  The needs must not go in a circle.
 *
 * Both functions return 0, or -1 with one line in *cause that names the step and
 * says what to change ("recipe refused: ..."); the caller gives it its exit code.
 */
#ifndef GG_STEPS_H
#define GG_STEPS_H

#include <stddef.h>

#include <jansson.h>

#include "manifest.h"

/* The most steps a recipe has. */
#define GG_STEPS_MAX 100
/* How much of a step's head is read for its `#!` and `# needs:` lines. */
#define GG_STEPS_HEADER_MAX (64 * 1024)

/*
 * The needs of step names[index] from its head, text (len bytes, at most
 * GG_STEPS_HEADER_MAX of the file), given names[0..count), the recipe's steps in path
 * order.  *needs is a new array of names.  Refused: no `#!` first line, a name that is
 * not a step, a step that needs itself.
 */
int gg_steps_header(const char *text, size_t len, int index,
		    char names[][GG_MANIFEST_MAX_COMPONENT + 1], size_t count, json_t **needs,
		    char **cause);

/*
 * Whether every step of steps ([{"name", "needs": [names]}...]) can start: refused,
 * naming them, when some needs go in a circle.
 */
int gg_steps_acyclic(json_t *steps, char **cause);

#endif
