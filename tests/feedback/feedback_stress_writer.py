"""One writer process for the concurrency test and the benchmark.

Publishes ``count`` RejectedEvents on a real EventBus with the real recorder
attached, and after each publish returns (the recorder commits inside it)
appends the sequence number to an acknowledgement file: every acknowledged
event must be in the database, whatever happens to this process afterwards.

usage: python feedback_stress_writer.py DB WRITER_ID COUNT ACK_FILE
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from amigo.events import EventBus, FileChange, Proposal, RejectedEvent
from amigo.prompt import EditRequest, build_messages
from feedback import attach
from feedback.settings import FeedbackSettings


def main(db: str, writer: str, count: int, ack: str) -> int:
    bus = EventBus()
    recorder = attach(bus, None, FeedbackSettings(db_path=db))
    assert recorder is not None
    text = "def f(x):\n    return x\n" * 20
    request = EditRequest(instruction="rename x to value", path="m.py", file_text=text)
    proposal = Proposal(id=f"writer-{writer}", request=request, messages=tuple(build_messages(request)),
                        answer="m.py\n<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n",
                        changes=(FileChange("m.py", text, text.replace("x", "value"), None),),
                        diff="", model="stress")
    fd = os.open(ack, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, b"start\n")
    for i in range(count):
        bus.publish(RejectedEvent(proposal, reason=f"w{writer}-{i}"))
        os.write(fd, f"{i}\n".encode())
    os.close(fd)
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
