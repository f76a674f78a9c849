/**
 * The pipeline's policy pack: every `pulumi preview --policy-pack policy` and CD `pulumi up` runs
 * it (see README, "Policy pack"). A mandatory violation fails the preview or update.
 */
import { PolicyPack } from "@pulumi/policy";
import { pipelinePolicies } from "./policies";
import { configFromEnvironment, policyStackConfig } from "./stack-config";

const { resources, stack } = pipelinePolicies(policyStackConfig(configFromEnvironment()));

new PolicyPack("cicd-pipeline", { enforcementLevel: "mandatory", policies: [...resources, ...stack] });
