/*
 * recipe.h: a recipe (payload directory) checked on this machine before anything is
 * uploaded, so that a mistake costs a second, not an upload and a failed plan.
 *
 * A recipe has a steps/ directory with at least one step.  A step is a file there
 * whose name starts with a digit; it must be named NN-name.sh (two digits, a dash,
 * a name of letters, digits, '.', '_' or '-'), be executable, and start with a "#!"
 * line (the VM runs it through that interpreter, never a guess).  Its `# needs:`
 * lines are read as the VM reads them (proto/steps.h): a name that is not a step, or
 * needs in a circle, are refused here rather than after the upload.  Other files in
 * steps/ (lib.sh) are the steps' own, not run.  Each refusal names the file and the
 * exact fix ("chmod +x steps/10-b.sh").
 */
#ifndef GG_RECIPE_H
#define GG_RECIPE_H

#include <stddef.h>

/*
 * Check the recipe in dir.  0 with *steps set to the number of steps (when steps is
 * not NULL), or GG_EXIT_ERROR with *cause the first problem and its fix.
 */
int recipe_check(const char *dir, size_t *steps, char **cause);

#endif
