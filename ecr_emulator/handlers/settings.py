"""Registry-wide configuration: account settings, scanning, managed signing and pull-time update exclusions.

Everything is kept in ``Registry.settings`` as plain dicts under the keys of ``models.settings``, whose helpers are
what image handlers consult.
"""

from .. import errors
from ..api.context import RequestContext
from ..models import scans, settings
from . import operation, paging, registry_setting

# Basic scanning only scans on push (other repositories are scanned manually); enhanced scanning adds continuous scans.
_FREQUENCIES = {"BASIC": ("SCAN_ON_PUSH",), "ENHANCED": ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")}
# AWS allows this many pull-time update exclusions per registry.
MAX_EXCLUSIONS = 100
_DEFAULT_PAGE = 100


def _setting_name(name: str) -> str:
    if name not in settings.ACCOUNT_SETTING_VALUES:
        raise errors.invalid_parameter(
            "name", f"Account setting name must be one of {', '.join(settings.ACCOUNT_SETTING_VALUES)}")
    return name


@operation("GetAccountSetting")
def get_account_setting(ctx: RequestContext, params: dict) -> dict:
    name = _setting_name(params["name"])
    registry = ctx.registry()
    with ctx.store.lock:
        return {"name": name, "value": settings.account_setting(registry, name)}


@operation("PutAccountSetting")
def put_account_setting(ctx: RequestContext, params: dict) -> dict:
    name = _setting_name(params["name"])
    value = params["value"]
    allowed = settings.ACCOUNT_SETTING_VALUES[name][1]
    if value not in allowed:
        raise errors.invalid_parameter("value", f"Value for {name} must be one of {', '.join(allowed)}")
    registry = ctx.registry()
    with ctx.store.lock:
        registry.settings.setdefault(settings.ACCOUNT_SETTINGS, {})[name] = value
    return {"name": name, "value": value}


@operation("PutRegistryScanningConfiguration")
def put_registry_scanning_configuration(ctx: RequestContext, params: dict) -> dict:
    """An absent scan type is BASIC, AWS's default. Each scan frequency may have at most one rule, as the console
    shows one filter list per frequency."""
    scan_type = params.get("scanType", "BASIC")
    rules: list[dict] = []
    for rule in params.get("rules", []):
        frequency = rule["scanFrequency"]
        if frequency not in _FREQUENCIES[scan_type]:
            raise errors.invalid_parameter(
                "rules", f"scanFrequency {frequency} is not supported for scanType {scan_type}; use "
                         f"{' or '.join(_FREQUENCIES[scan_type])}")
        if any(r["scanFrequency"] == frequency for r in rules):
            raise errors.invalid_parameter(
                "rules", f"only one rule per scanFrequency is allowed; {frequency} is repeated")
        rules.append({"scanFrequency": frequency,
                      "repositoryFilters": registry_setting.repository_filters(rule["repositoryFilters"])})
    config = {"scanType": scan_type, "rules": rules}
    registry = ctx.registry()
    with ctx.store.lock:
        scans.reconfigure(ctx.store, registry, config, ctx.clock.now())
    return {"registryScanningConfiguration": config}


@operation("GetRegistryScanningConfiguration")
def get_registry_scanning_configuration(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry()
    with ctx.store.lock:
        return {"registryId": registry.account, "scanningConfiguration": settings.scanning_configuration(registry)}


@operation("BatchGetRepositoryScanningConfiguration")
def batch_get_repository_scanning_configuration(ctx: RequestContext, params: dict) -> dict:
    """Missing repositories are reported as failures beside the found ones, as batch operations of ECR do."""
    registry = ctx.registry()
    found, failures = [], []
    with ctx.store.lock:
        for name in dict.fromkeys(params["repositoryNames"]):
            repo = registry.repositories.get(name)
            if repo is None:
                failures.append({"repositoryName": name, "failureCode": "REPOSITORY_NOT_FOUND",
                                 "failureReason": errors.repository_not_found(name, registry.account).message})
            else:
                found.append({"repositoryArn": repo.arn, "repositoryName": repo.name,
                              **settings.repository_scanning(registry, repo)})
    return {"scanningConfigurations": found, "failures": failures}


@operation("PutSigningConfiguration")
def put_signing_configuration(ctx: RequestContext, params: dict) -> dict:
    rules = []
    for rule in params["signingConfiguration"]["rules"]:
        stored = {"signingProfileArn": rule["signingProfileArn"]}
        if rule.get("repositoryFilters"):
            stored["repositoryFilters"] = registry_setting.repository_filters(rule["repositoryFilters"])
        rules.append(stored)
    config = {"rules": rules}
    registry_setting.put(ctx, settings.SIGNING, config)
    return {"signingConfiguration": config}


@operation("GetSigningConfiguration")
def get_signing_configuration(ctx: RequestContext, params: dict) -> dict:
    return registry_setting.get(ctx, settings.SIGNING, "signingConfiguration", errors.signing_configuration_not_found)


@operation("DeleteSigningConfiguration")
def delete_signing_configuration(ctx: RequestContext, params: dict) -> dict:
    return registry_setting.delete(ctx, settings.SIGNING, "signingConfiguration",
                                   errors.signing_configuration_not_found)


@operation("RegisterPullTimeUpdateExclusion")
def register_pull_time_update_exclusion(ctx: RequestContext, params: dict) -> dict:
    arn = params["principalArn"]
    registry = ctx.registry()
    with ctx.store.lock:
        created = ctx.clock.now()
        settings.add(registry, settings.PULL_TIME_EXCLUSIONS, arn, created,
                     lambda _: errors.exclusion_already_exists(arn, registry.account),
                     MAX_EXCLUSIONS, "pull time update exclusions")
        return {"principalArn": arn, "createdAt": created}


@operation("DeregisterPullTimeUpdateExclusion")
def deregister_pull_time_update_exclusion(ctx: RequestContext, params: dict) -> dict:
    arn = params["principalArn"]
    registry = ctx.registry()
    with ctx.store.lock:
        if registry.settings.get(settings.PULL_TIME_EXCLUSIONS, {}).pop(arn, None) is None:
            raise errors.exclusion_not_found(arn, registry.account)
    return {"principalArn": arn}


@operation("ListPullTimeUpdateExclusions")
def list_pull_time_update_exclusions(ctx: RequestContext, params: dict) -> dict:
    """Principals in ARN order; the token carries the last one returned, so paging survives concurrent changes."""
    after = paging.decode(params.get("nextToken"), str)
    limit = params.get("maxResults", _DEFAULT_PAGE)
    registry = ctx.registry()
    with ctx.store.lock:
        ordered = sorted(registry.settings.get(settings.PULL_TIME_EXCLUSIONS, {}))
    chosen, token = paging.after_key(ordered, after, limit)
    result: dict = {"pullTimeUpdateExclusions": chosen}
    if token is not None:
        result["nextToken"] = token
    return result
