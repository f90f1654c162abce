"""moto's EC2 server, except that GetConsoleOutput answers with the text the EC2 emulator wrote
for the instance in the folder SKYWARD_MOTO_CONSOLE_DIR (file name: the instance id), as the
instance's serial console would show it. Without such a file, moto's own fixed text."""

import base64
import os
import sys

from moto.ec2.responses.general import General
from moto.server import main

CONSOLE_DIR = os.environ["SKYWARD_MOTO_CONSOLE_DIR"]
RESPONSE = """<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <instanceId>{instance_id}</instanceId>
  <timestamp>2024-01-01T00:00:00.000Z</timestamp>
  <output>{output}</output>
</GetConsoleOutputResponse>"""
moto_console_output = General.get_console_output


def console_output(self: General) -> str:
    instance_id = self._get_param("InstanceId") or ""
    written = os.path.join(CONSOLE_DIR, os.path.basename(instance_id))
    if not instance_id or not os.path.isfile(written):
        return moto_console_output(self)
    self.ec2_backend.get_instance(instance_id)  # an unknown id gets moto's own error
    with open(written, "rb") as f:
        output = base64.b64encode(f.read()).decode()
    return RESPONSE.format(instance_id=instance_id, output=output)


General.get_console_output = console_output  # type: ignore[method-assign]
sys.exit(main(sys.argv[1:]))
