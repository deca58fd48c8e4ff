/* The rule table: every rule's id, origin, default severity and one line on
 * what fires it. docs/lint.md is written from the same list (the e2e test
 * compares them). */
#include "lint/lint_int.h"

#define BK(id, sev, ...)                                      \
	{                                                     \
		id, "buildkit", BERTH_LINT_##sev, __VA_ARGS__ \
	}
#define HL(id, sev, ...)                                      \
	{                                                     \
		id, "hadolint", BERTH_LINT_##sev, __VA_ARGS__ \
	}
#define BERTH(id, sev, ...)                                \
	{                                                  \
		id, "berth", BERTH_LINT_##sev, __VA_ARGS__ \
	}

const struct berth_lint_rule berth__lint_rule_table[] = {
    /* BuildKit's build checks (frontend/dockerfile/linter/ruleset.go). */
    BK("StageNameCasing", WARNING, false, NULL, "a stage name (FROM ... AS Name) is not lowercase"),
    BK("FromAsCasing", WARNING, false, NULL, "the AS keyword's case differs from FROM's"),
    BK("NoEmptyContinuation", WARNING, false, NULL, "an empty line inside a continued instruction"),
    BK("ConsistentInstructionCasing", WARNING, false, NULL,
       "an instruction keyword is not in the case most instructions use"),
    BK("DuplicateStageName", ERROR, false, NULL, "two stages have the same name"),
    BK("ReservedStageName", WARNING, false, NULL, "a stage is named scratch or context"),
    BK("JSONArgsRecommended", WARNING, false, NULL,
       "CMD or ENTRYPOINT in shell form (no SHELL set): the app does not get signals"),
    BK("MaintainerDeprecated", WARNING, false, NULL, "MAINTAINER is used"),
    BK("UndefinedArgInFrom", WARNING, false, NULL,
       "FROM uses a variable that no ARG before the first FROM declares"),
    BK("WorkdirRelativePath", WARNING, false, NULL,
       "a relative WORKDIR with no absolute WORKDIR before it in the stage"),
    BK("UndefinedVar", WARNING, false, NULL,
       "an instruction the builder expands uses a variable that is not defined"),
    BK("MultipleInstructionsDisallowed", WARNING, false, NULL,
       "CMD, ENTRYPOINT or HEALTHCHECK more than once in a stage (only the last counts)"),
    BK("LegacyKeyValueFormat", WARNING, false, NULL, "ENV or LABEL in the `KEY value` form"),
    BK("InvalidDefaultArgInFrom", ERROR, false, NULL,
       "with the ARG defaults, a FROM image is empty or not a valid reference"),
    BK("FromPlatformFlagConstDisallowed", WARNING, false, NULL,
       "FROM --platform with a constant (not named in the stage name)"),
    BK("SecretsUsedInArgOrEnv", WARNING, false, NULL,
       "an ARG or ENV name looks like a secret (password, token, key, ...)"),
    BK("RedundantTargetPlatform", WARNING, false, NULL, "FROM --platform=$TARGETPLATFORM"),
    BK("ExposeProtoCasing", WARNING, false, NULL, "EXPOSE protocol not lowercase (80/TCP)"),
    BK("ExposeInvalidFormat", WARNING, false, NULL,
       "EXPOSE with an IP address or a host:container mapping"),
    BK("CopyIgnoredFile", WARNING, true, NULL,
       "COPY/ADD of a context path that .dockerignore excludes (needs the context)"),
    BK("InvalidDefinitionDescription", WARNING, true, NULL,
       "the comment right above a named FROM or an ARG does not start with its name"),

    /* hadolint's rules that matter for app images. */
    HL("DL3006", WARNING, false, NULL, "FROM an image without a tag or digest"),
    HL("DL3007", WARNING, false, NULL, "FROM an image tagged latest"),
    HL("DL3008", WARNING, false, NULL, "apt-get install of a package without =version"),
    HL("DL3009", WARNING, false, NULL,
       "apt-get update/install in the final image without removing /var/lib/apt/lists"),
    HL("DL3014", WARNING, false, NULL, "apt-get install without -y (the build cannot answer)"),
    HL("DL3015", INFO, false, NULL, "apt-get install without --no-install-recommends"),
    HL("DL3027", WARNING, false, NULL, "apt used in a RUN (its CLI is not stable for scripts)"),
    HL("DL3018", WARNING, false, NULL, "apk add of a package without =version"),
    HL("DL3019", WARNING, false, NULL, "apk add in the final image without --no-cache"),
    HL("DL3013", WARNING, false, NULL, "pip install of a package without ==version"),
    HL("DL3042", WARNING, false, NULL,
       "pip install in the final image without --no-cache-dir (or PIP_NO_CACHE_DIR)"),
    HL("DL3016", WARNING, false, NULL, "npm install of a package without @version"),
    HL("DL3003", WARNING, false, NULL, "cd in a RUN instead of WORKDIR"),
    HL("DL3004", WARNING, false, NULL, "sudo in a RUN"),
    HL("DL4006", WARNING, false, NULL, "a RUN with a pipe and no pipefail"),
    HL("DL4005", WARNING, false, NULL, "a RUN relinks /bin/sh instead of using SHELL"),
    HL("DL3059", INFO, false, NULL,
       "a RUN right after another RUN with no comment saying why they are apart"),
    HL("DL3025", WARNING, false, "JSONArgsRecommended", "CMD or ENTRYPOINT in shell form"),
    HL("DL4003", WARNING, false, "MultipleInstructionsDisallowed", "CMD more than once in a stage"),
    HL("DL4004", WARNING, false, "MultipleInstructionsDisallowed",
       "ENTRYPOINT more than once in a stage"),
    HL("DL3012", WARNING, false, "MultipleInstructionsDisallowed",
       "HEALTHCHECK more than once in a stage"),
    HL("DL4000", WARNING, false, "MaintainerDeprecated", "MAINTAINER is used"),
    HL("DL3024", ERROR, false, "DuplicateStageName", "two stages have the same name"),
    HL("DL3020", WARNING, false, NULL, "ADD of local files that are not tar archives"),
    HL("DL3000", WARNING, false, "WorkdirRelativePath", "a relative WORKDIR"),
    HL("DL3045", WARNING, false, NULL, "COPY to a relative destination with no WORKDIR set"),
    HL("DL3011", ERROR, false, NULL, "EXPOSE of a port outside 0-65535"),
    HL("DL3002", INFO, false, NULL, "the final image's last USER is root"),

    /* berth's own, from the seed's checklist. */
    BERTH("berth/python-missing", ERROR, false, NULL,
	  "an SDK app's final stage has no python3 (judged from the base image and installs)"),
    BERTH("berth/cuda-env", WARNING, false, NULL,
	  "a GPU app's image is not a CUDA image and sets neither CUDA_HOME + LD_LIBRARY_PATH "
	  "nor NVIDIA_*"),
    BERTH("berth/install-last", WARNING, false, NULL,
	  "a package declared install_last is not installed by the last install step"),
    BERTH("berth/invalid", ERROR, false, NULL,
	  "the Dockerfile parses but does not load as stages: the build would fail"),
};

const size_t berth__lint_rule_count = BERTH_ARRAY_SIZE(berth__lint_rule_table);

const struct berth_lint_rule *berth_lint_rules(size_t *n)
{
	*n = berth__lint_rule_count;
	return berth__lint_rule_table;
}

const struct berth_lint_rule *berth_lint_rule_find(const char *id)
{
	for (size_t i = 0; i < berth__lint_rule_count; i++)
		if (!strcmp(berth__lint_rule_table[i].id, id))
			return &berth__lint_rule_table[i];
	return NULL;
}

const char *berth_lint_severity_name(enum berth_lint_severity s)
{
	switch (s) {
	case BERTH_LINT_INFO:
		return "info";
	case BERTH_LINT_WARNING:
		return "warning";
	case BERTH_LINT_ERROR:
		return "error";
	}
	return "?";
}
