"""tests/imds's IMDSv2 server with the whole EC2 metadata tree cloud-init's Ec2 datasource crawls:
every API version it probes, directory listings with and without the trailing slash (cloud-init
GETs /2021-03-23/dynamic/instance-identity and expects the listing; a 404 there costs it ~40 s of
retries, see the systemd-guest notes), placement, services and the network tree of the guest's NIC
(QEMU's default MAC)."""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "imds"))
from imds_server import ImdsServer  # noqa: E402

MAC = "52:54:00:12:34:56"
VERSIONS = ["1.0", "2009-04-04", "2016-09-02", "2018-09-24", "2021-03-23", "latest"]


def tree(instance_id):
    host = "ip-10-0-0-12.eu-west-1.compute.internal"
    nic = {"device-number": "0", "interface-id": "eni-0123456789abcdef0", "local-hostname": host,
           "local-ipv4s": "10.0.0.12", "mac": MAC, "owner-id": "123456789012",
           "security-group-ids": "sg-0123456789abcdef0", "security-groups": "default",
           "subnet-id": "subnet-0123456789abcdef0", "subnet-ipv4-cidr-block": "10.0.0.0/24",
           "vpc-id": "vpc-0123456789abcdef0", "vpc-ipv4-cidr-block": "10.0.0.0/16",
           "vpc-ipv4-cidr-blocks": "10.0.0.0/16"}
    return {
        "ami-id": "ami-0abcdef1234567890", "ami-launch-index": "0", "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "hostname": host, "instance-action": "none", "instance-id": instance_id,
        "instance-life-cycle": "on-demand", "instance-type": "t3.micro", "local-hostname": host,
        "local-ipv4": "10.0.0.12", "mac": MAC,
        "network": {"interfaces": {"macs": {MAC: nic}}},
        "placement": {"availability-zone": "eu-west-1a", "availability-zone-id": "euw1-az1",
                      "region": "eu-west-1"},
        "profile": "default-hvm", "reservation-id": "r-0123456789abcdef0",
        "security-groups": "default",
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }


class Ec2Imds(ImdsServer):
    def lookup(self, path):
        with self.lock:
            user_data = self.user_data
            instance_id = self.instance_id
        parts = [p for p in path.split("?")[0].split("/") if p]
        if not parts:
            return "\n".join(VERSIONS)
        if parts[0] not in VERSIONS:
            return None
        rest = parts[1:]
        if not rest:
            return "dynamic\nmeta-data" + ("\nuser-data" if user_data is not None else "")
        if rest == ["user-data"]:
            return user_data
        if rest[0] == "dynamic":
            node = {"instance-identity": {"document": self.document()}}
        elif rest[0] == "meta-data":
            node = tree(instance_id)
        else:
            return None
        for name in rest[1:]:
            if not isinstance(node, dict) or name not in node:
                return None
            node = node[name]
        if isinstance(node, dict):
            return "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items())
        return node


def start(**kw):
    return Ec2Imds(**kw).start()


if __name__ == "__main__":    # a quick look: python3 ec2_imds.py
    s = Ec2Imds(instance_id="i-x", user_data=b"#!/bin/sh\n")
    for p in ["/", "/latest", "/2021-03-23/meta-data/", "/2021-03-23/dynamic/instance-identity",
              f"/latest/meta-data/network/interfaces/macs/{MAC}/", "/latest/meta-data/placement/region"]:
        print(p, "->", repr(s.lookup(p)))
    os._exit(0)
