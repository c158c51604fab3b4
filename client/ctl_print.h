/* ctl_print.h - render a reply's result (an sr_mp_node tree) as JSON
 * (jansson) or as aligned text: scalar members as "key  value" lines, nested
 * maps indented under their key, arrays of maps as tables. Generic over the
 * tree, so new result fields print without client changes.
 */
#ifndef CTL_PRINT_H
#define CTL_PRINT_H

#include <jansson.h>
#include <stdio.h>

#include "sr_proto.h"

/* Convert the subtree at node `idx` to JSON; NULL when out of memory.
 * Strings that are not UTF-8 have their invalid bytes replaced by '?';
 * non-string map keys are written in their text form; bin/ext become
 * "<N bytes>"; integers above INT64_MAX become reals. */
json_t *ctl_print_json(const sr_mp_doc *doc, uint32_t idx);

/* Print the map at node `idx` as text. */
void ctl_print_text(FILE *f, const sr_mp_doc *doc, uint32_t idx);

#endif /* CTL_PRINT_H */
