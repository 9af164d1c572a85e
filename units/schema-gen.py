# Generates units/schema.json: python3 units/schema-gen.py > units/schema.json
import json
size = {"description": "bytes, or a number with K, M, G or T (powers of 1024), like 256M",
        "anyOf": [{"type": "integer", "minimum": 0},
                  {"type": "string", "pattern": "^[0-9]+([kKmMgGtT](i?[bB])?|[bB])?$"}]}
dur = {"description": "a duration like 100ms, 5s, 1m30s, 2h; a bare number means seconds",
       "anyOf": [{"type": "integer", "minimum": 0},
                 {"type": "string", "pattern": "^([0-9]+|([0-9]+(us|ms|s|min|m|h|d))+)$"}]}
name = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$"}
abspath = {"type": "string", "pattern": "^/"}
strlist = {"type": "array", "items": {"type": "string"}}
scalar = {"type": ["string", "number", "boolean"]}
def obj(props, required=None, **kw):
    o = {"type": "object", "properties": props, "additionalProperties": False}
    if required: o["required"] = required
    o.update(kw)
    return o
ns_val = {"type": "string", "pattern": "^(private|host|container:[a-z0-9][a-z0-9_.-]{0,62})$"}
netns_val = {"type": "string", "pattern": "^(private|host|none|container:[a-z0-9][a-z0-9_.-]{0,62})$"}
ipv4 = {"type": "string", "pattern": "^([0-9]{1,3}\\.){3}[0-9]{1,3}$"}
uint = {"type": "integer", "minimum": 0}
idmap = {"type": "array", "minItems": 1, "items": {"anyOf": [
    {"type": "string", "pattern": "^[0-9]+:[0-9]+:[0-9]+$"},
    obj({"inside": uint, "outside": uint, "count": {"type": "integer", "minimum": 1}},
        ["inside", "outside", "count"])]}}
rlim_val = {"anyOf": [{"type": "integer", "minimum": 0},
                      {"type": "string", "pattern": "^([0-9]+|unlimited|infinity)(:([0-9]+|unlimited|infinity))?$"}]}
rlimits = obj({k: rlim_val for k in ["as", "core", "cpu", "data", "fsize", "locks", "memlock",
    "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"]})
caps = "ALL CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE".split()
ci = lambda w: "".join("[%s%s]" % (c.upper(), c.lower()) if c.isalpha() else c for c in w)
cap = {"type": "string", "description": "capability name, any case, with or without CAP_",
       "pattern": "^(%s)?(%s)$" % (ci("CAP_"), "|".join(ci(c) for c in caps))}
container = {
    "kind": {"const": "container", "description": "container (default) or network"},
    "name": dict(name, description="default: the file name without .yaml/.yml"),
    "image": {"type": "string", "minLength": 1, "description":
              "oci:/DIR[:TAG], docker-archive:/FILE.tar, tar:/FILE.tar[.gz|.zst], dir:/DIR, or an imported image name"},
    "command": dict(strlist, minItems=1, description="exec form; default: the image's entrypoint + cmd"),
    "env": {"anyOf": [{"type": "object", "additionalProperties": scalar},
                      {"type": "array", "items": {"type": "string", "pattern": "^[^=]+="}}]},
    "workdir": abspath,
    "user": {"type": ["string", "integer"], "description": "USER[:GROUP], names or numbers"},
    "hostname": {"type": "string"},
    "namespaces": obj({"pid": ns_val, "net": netns_val, "ipc": ns_val, "uts": ns_val,
                       "cgroup": ns_val, "user": ns_val, "time": ns_val}),
    "networks": {"type": "array", "items": {"anyOf": [name, obj({"name": name, "address": ipv4}, ["name"])]}},
    "mounts": {"type": "array", "items": {"type": "object", "required": ["type", "target"],
        "additionalProperties": False,
        "properties": {"type": {"enum": ["bind", "tmpfs"]}, "source": abspath, "target": abspath,
                       "readonly": {"type": "boolean"}, "recursive": {"type": "boolean"},
                       "size": size, "mode": {"type": ["string", "integer"]}},
        "if": {"properties": {"type": {"const": "bind"}}},
        "then": {"required": ["source"], "not": {"anyOf": [{"required": ["size"]}, {"required": ["mode"]}]}},
        "else": {"not": {"anyOf": [{"required": ["source"]}, {"required": ["recursive"]}]}}}},
    "resources": obj({
        "memory": obj({"max": size, "high": size, "low": size, "min": size, "swap_max": size,
                       "oom_group": {"type": "boolean"}}),
        "cpu": obj({"weight": {"type": "integer", "minimum": 1, "maximum": 10000},
                    "max": {"type": "number", "exclusiveMinimum": 0, "description": "in CPUs, like 0.5"},
                    "period": dur,
                    "cpus": {"type": ["string", "integer"], "pattern": "^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$"},
                    "mems": {"type": ["string", "integer"], "pattern": "^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$"}}),
        "pids": obj({"max": {"type": "integer", "minimum": 1}}),
        "io": obj({"weight": {"type": "integer", "minimum": 1, "maximum": 10000},
                   "max": {"type": "array", "items": obj({
                       "device": {"type": "string", "pattern": "^[0-9]+:[0-9]+$"},
                       "rbps": size, "wbps": size,
                       "riops": {"type": "integer", "minimum": 1}, "wiops": {"type": "integer", "minimum": 1}},
                       ["device"])}}),
        "devices": {"type": "array", "items": obj({"path": {"type": "string", "pattern": "^/dev/"},
                                                   "access": {"type": "string", "pattern": "^[rwm]{1,3}$"}}, ["path"])},
        "hugetlb": {"type": "object", "propertyNames": {"pattern": "^[0-9]+[KMG]B$"}, "additionalProperties": size}}),
    "security": obj({
        "capabilities": obj({"add": {"type": "array", "items": cap}, "drop": {"type": "array", "items": cap}}),
        "seccomp": {"type": "string", "pattern": "^(default|unconfined|/.*)$"},
        "no_new_privileges": {"type": "boolean", "default": True},
        "readonly_rootfs": {"type": "boolean", "default": False},
        "masked_paths": {"type": "array", "items": abspath},
        "readonly_paths": {"type": "array", "items": abspath},
        "rlimits": rlimits,
        "sysctl": {"type": "object", "additionalProperties": scalar},
        "apparmor": {"type": "string"}, "selinux_label": {"type": "string"},
        "uid_map": idmap, "gid_map": idmap}),
    "restart": {"anyOf": [
        {"enum": ["no", "on-failure", "always", "unless-stopped", False]},
        obj({"policy": {"enum": ["no", "on-failure", "always", "unless-stopped", False], "default": "on-failure"},
             "delay": dur, "max_delay": dur, "reset_after": dur,
             "burst": {"type": "integer", "minimum": 1}, "interval": dur,
             "prevent_exit_codes": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
             "on_give_up": {"enum": ["stay-failed", "reboot"]}})]},
    "stop": obj({"signal": {"type": ["string", "integer"]}, "timeout": dur}),
    "health": dict(obj({
        "command": dict(strlist, minItems=1),
        "http": obj({"port": {"type": "integer", "minimum": 1, "maximum": 65535}, "path": {"type": "string", "pattern": "^/"}}, ["port"]),
        "tcp": obj({"port": {"type": "integer", "minimum": 1, "maximum": 65535}}, ["port"]),
        "interval": dur, "timeout": dur, "retries": {"type": "integer", "minimum": 1},
        "start_period": dur, "on_unhealthy": {"enum": ["restart", "none"]}}),
        oneOf=[{"required": ["command"]}, {"required": ["http"]}, {"required": ["tcp"]}]),
    "depends_on": {"anyOf": [
        {"type": "array", "items": name},
        {"type": "object", "propertyNames": name, "additionalProperties": {"anyOf": [
            {"enum": ["started", "healthy", "completed"]},
            obj({"condition": {"enum": ["started", "healthy", "completed"]}, "restart": {"type": "boolean"}})]}}]},
    "critical": {"type": "boolean"},
    "dns": {"type": "array", "items": {"type": "string"}},
}
network = {
    "kind": {"const": "network"},
    "name": name,
    "bridge": {"type": "string", "minLength": 1, "maxLength": 15, "pattern": "^[^/: \\t]+$"},
    "subnet": {"type": "string", "pattern": "^([0-9]{1,3}\\.){3}[0-9]{1,3}/([89]|[12][0-9]|30)$"},
    "gateway": ipv4,
}
schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "https://mgr.invalid/schema/unit.json",
    "title": "mgr unit file",
    "description": "One YAML file = one unit (kind: container or kind: network). See mgr.unit(5).",
    "type": "object",
    "if": {"properties": {"kind": {"const": "network"}}, "required": ["kind"]},
    "then": {"properties": network, "additionalProperties": False, "required": ["kind", "subnet"]},
    "else": {"properties": container, "additionalProperties": False, "required": ["image"]},
}
print(json.dumps(schema, indent=2))
