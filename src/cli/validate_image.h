/* The check `berth run` makes on an app's image once it is ready (lint/'s
 * image validation, docs/lint.md "Validating a built image"). */
#ifndef BERTH_CLI_VALIDATE_IMAGE_H
#define BERTH_CLI_VALIDATE_IMAGE_H

struct berth_app_spec;

/* Validate the stored image `ref` (a canonical name, layers unpacked) for
 * the app `spec` (SDK app: python3 on the PATH; GPUs: the CUDA environment;
 * caches left in layers) and print the findings on stderr. Returns CLI_FAIL
 * when an error finding means the app cannot start (an SDK app without
 * python3), else CLI_OK: warnings never stop a run, and a check that cannot
 * be made is a note. */
int cli_validate_app_image(const struct berth_app_spec *spec, const char *ref);

#endif
