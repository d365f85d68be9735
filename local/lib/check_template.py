"""What template.yaml and samconfig.toml promise beyond cfn-lint, for local/check/serverless.

    python3 local/lib/check_template.py [TEMPLATE [SAMCONFIG]]

Secrets reach the functions as Secrets Manager ARNs only, each function may read just its own
secrets, every function can join the VPC, the worker's concurrency is bounded, it takes one
document per invocation, a scheduled reconciler exists, the dead-letter queue raises an alarm, every function's logs expire, `sam build` needs no beta prompt, and the
ApiKey pattern takes real keys and refuses weak ones. Exits 1 with one line per problem.
"""

import base64
import os
import re
import sys
import tomllib

import yaml

# Parameter -> the variable the server reads; the function gets <variable>_SECRET_ARN instead.
SECRET_PARAMETERS = {"DatabaseUrl": "DATABASE_URL", "ApiKey": "API_KEY"}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags as their long forms: `!Ref X` is {"Ref": "X"}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def mentions(value, parameter):
    """Whether value refers to parameter anywhere (Ref, or ${parameter} in a Sub)."""
    if isinstance(value, list):
        return any(mentions(item, parameter) for item in value)
    if not isinstance(value, dict):
        return False
    if value.get("Ref") == parameter:
        return True
    sub = value.get("Fn::Sub")
    text = sub[0] if isinstance(sub, list) else sub
    if isinstance(text, str) and "${" + parameter + "}" in text:
        return True
    return any(mentions(item, parameter) for item in value.values())


def ref(value):
    return value.get("Ref") if isinstance(value, dict) else None


def getatt(value):
    att = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    return tuple(att) if isinstance(att, list) else None


def props(resource):
    return resource.get("Properties") or {}


def check_secrets(template, functions, errors):
    resources, parameters = template.get("Resources", {}), template.get("Parameters", {})
    secrets = {k: r for k, r in resources.items() if r.get("Type") == "AWS::SecretsManager::Secret"}
    secret_of = {}
    for parameter, variable in SECRET_PARAMETERS.items():
        if not parameters.get(parameter, {}).get("NoEcho"):
            errors.append(f"parameter {parameter} must exist and be NoEcho")
        holders = [k for k, r in secrets.items() if mentions(props(r).get("SecretString"), parameter)]
        if len(holders) != 1:
            errors.append(f"one AWS::SecretsManager::Secret must hold {parameter} (found {holders})")
        secret_of[variable] = holders[0] if holders else None
        for name, resource in resources.items():
            if name not in secrets and mentions(resource, parameter):
                errors.append(f"{name} refers to {parameter} itself: give it the secret's ARN")
        for section in ("Globals", "Outputs"):
            if mentions(template.get(section, {}), parameter):
                errors.append(f"{section} refers to the secret parameter {parameter}")

    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    for name, function in functions.items():
        p = props(function)
        env = {**global_env.get("Variables", {}), **p.get("Environment", {}).get("Variables", {})}
        # Every function talks to PostgreSQL; those with /api routes also check API keys.
        needs = {"DATABASE_URL"}
        for event in p.get("Events", {}).values():
            path = str(props(event).get("Path", ""))
            if event.get("Type") == "HttpApi" and path.startswith("/api"):
                needs.add("API_KEY")
        granted = {
            ref(policy["AWSSecretsManagerGetSecretValuePolicy"].get("SecretArn"))
            for policy in p.get("Policies", [])
            if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy
        }
        for variable, secret in secret_of.items():
            arn_variable = f"{variable}_SECRET_ARN"
            if variable in env:
                errors.append(f"{name}: {variable} would carry the secret itself; use {arn_variable}")
            if secret is None:
                continue
            if variable in needs and ref(env.get(arn_variable)) != secret:
                errors.append(f"{name}: needs {arn_variable}: !Ref {secret}")
            if variable in needs and secret not in granted:
                errors.append(f"{name}: needs AWSSecretsManagerGetSecretValuePolicy on {secret}")
            if variable not in needs and (secret in granted or arn_variable in env):
                errors.append(f"{name}: has no /api routes, so it must not get {secret}")


def check_functions(template, functions, errors):
    resources = template.get("Resources", {})
    has_global_vpc = "VpcConfig" in template.get("Globals", {}).get("Function", {})
    for name, function in functions.items():
        p = props(function)
        if "VpcConfig" not in p and not has_global_vpc:
            errors.append(f"{name}: needs VpcConfig (an !If on the VPC parameters)")
        for event_name, event in p.get("Events", {}).items():
            if event.get("Type") == "SQS" and "MaximumConcurrency" not in props(event).get(
                "ScalingConfig", {}
            ):
                errors.append(f"{name}.{event_name}: needs ScalingConfig.MaximumConcurrency")
        group = ref((p.get("LoggingConfig") or {}).get("LogGroup"))
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            errors.append(f"{name}: LoggingConfig.LogGroup must be !Ref an AWS::Logs::LogGroup")
        elif "RetentionInDays" not in props(resources[group]):
            errors.append(f"{group} (the log group of {name}) needs RetentionInDays")


def check_delivery(functions, errors):
    """One document per worker invocation, so a slow one cannot run another out of time; and a
    scheduled reconciler, which settles the documents whose message was lost or dead-lettered."""
    events = [
        (name, event) for name, f in functions.items() for event in props(f).get("Events", {}).values()
    ]
    for name, event in events:
        if event.get("Type") == "SQS" and props(event).get("BatchSize") != 1:
            errors.append(f"{name}: its SQS event needs BatchSize: 1")
    scheduled = [
        name
        for name, event in events
        if event.get("Type") in ("Schedule", "ScheduleV2")
        and functions[name].get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "reconciler"
    ]
    if not scheduled:
        errors.append("no function runs the reconciler binary on a schedule")


def check_dead_letter_alarm(template, errors):
    resources = template.get("Resources", {}).values()
    queues = {
        getatt(props(r).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        for r in resources
        if r.get("Type") == "AWS::SQS::Queue"
    } - {None}
    if not queues:
        errors.append("no queue has a RedrivePolicy naming its dead-letter queue")
    alarms = [props(r) for r in resources if r.get("Type") == "AWS::CloudWatch::Alarm"]
    above_zero = {("GreaterThanThreshold", 0), ("GreaterThanOrEqualToThreshold", 1)}
    for queue, _ in queues:
        if not any(
            a.get("Namespace") == "AWS/SQS"
            and a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and any(getatt(d.get("Value")) == (queue, "QueueName") for d in a.get("Dimensions", []))
            and (a.get("ComparisonOperator"), a.get("Threshold")) in above_zero
            for a in alarms
        ):
            errors.append(f"no AWS::CloudWatch::Alarm on {queue}: ApproximateNumberOfMessagesVisible > 0")


def check_samconfig(path, errors):
    try:
        with open(path, "rb") as f:
            default = tomllib.load(f).get("default", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        errors.append(f"{path}: {e}")
        return
    build = {
        **default.get("global", {}).get("parameters", {}),
        **default.get("build", {}).get("parameters", {}),
    }
    if build.get("beta_features") is not True:
        errors.append(f"{path}: [default.build.parameters] needs beta_features = true")


def server_placeholders():
    """The placeholder keys the server refuses (shared/src/config/api_keys.rs): the pattern must
    refuse each of them too, in any letter case, so the two lists cannot drift apart."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(root, "shared", "src", "config", "api_keys.rs")) as f:
        block = f.read().split("const PLACEHOLDERS")[1].split("];")[0]
    return re.findall(r'"([^"]+)"', block)


def check_api_key_pattern(template, errors):
    pattern = template.get("Parameters", {}).get("ApiKey", {}).get("AllowedPattern")
    if not pattern:
        errors.append("parameter ApiKey needs an AllowedPattern")
        return
    try:
        regex = re.compile(pattern)
    except re.error as e:
        errors.append(f"the ApiKey AllowedPattern does not compile: {e}")
        return

    def key():  # what `openssl rand -base64 32` prints: 44 characters, with + / =
        return base64.b64encode(os.urandom(32)).decode()

    good = [key() for _ in range(100)] + [f"{key()},{key()}", "+/+/+/+/+/+/+/+/"]
    bad = ["short", "a,,b", "k7Qp2vX9m L4sT8wN1bR", "change-me-api-key"]
    bad += [f"{key()},change-me-api-key", f"{key()},", f"{key()}, {key()}", ""]
    placeholders = server_placeholders()
    if not placeholders:
        errors.append("no PLACEHOLDERS found in shared/src/config/api_keys.rs")
    bad += placeholders + [p.upper() for p in placeholders]
    # CloudFormation matches the pattern against the whole value.
    errors += [f"the ApiKey AllowedPattern refuses {g!r}" for g in good if not regex.fullmatch(g)]
    errors += [f"the ApiKey AllowedPattern accepts {b!r}" for b in bad if regex.fullmatch(b)]


def main():
    template_path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    default_samconfig = os.path.join(os.path.dirname(template_path), "samconfig.toml")
    samconfig_path = sys.argv[2] if len(sys.argv) > 2 else default_samconfig
    with open(template_path) as f:
        template = yaml.load(f, Loader=CfnLoader)
    functions = {
        k: r
        for k, r in template.get("Resources", {}).items()
        if r.get("Type") == "AWS::Serverless::Function"
    }
    errors = []
    if not functions:
        errors.append("no AWS::Serverless::Function")
    check_secrets(template, functions, errors)
    check_functions(template, functions, errors)
    check_delivery(functions, errors)
    check_dead_letter_alarm(template, errors)
    check_samconfig(samconfig_path, errors)
    check_api_key_pattern(template, errors)
    for error in errors:
        print(f"check_template: {error}", file=sys.stderr)
    if errors:
        sys.exit(f"check_template: {template_path}: {len(errors)} problem(s)")
    print(f"check_template: {template_path}, {samconfig_path}: ok ({len(functions)} functions)")


if __name__ == "__main__":
    main()
