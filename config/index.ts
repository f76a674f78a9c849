/**
 * The stack's configuration: `import { loadConfig, PipelineConfig } from "./config"`. One file per
 * section (github, environment, deploy, workflows, backend, release), the table of secrets
 * (secrets.ts), the cross-field rules (rules.ts), the parse entry point (parse.ts) and the reading
 * of committed stack files (stack-file.ts).
 */
export { DEFAULT_LIMITS, DEFAULT_METRICS_PORT, DEFAULT_PROXY_IMAGE, proxyImagePinned } from "./deploy";
export { loadConfig, parseConfig } from "./parse";
export { crossFieldRules } from "./rules";
export { secretNames, secretTable } from "./secrets";
export { committedStacks, readStackFile } from "./stack-file";
export { ConfigError, PipelineConfig, RawConfig } from "./types";
