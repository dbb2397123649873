"""How a node's ``SystemExit`` or ``KeyboardInterrupt`` leaves a run without ending the loop."""


class Halt(Exception):
    """A node's ``SystemExit`` / ``KeyboardInterrupt`` on its way out (the run's first error).

    asyncio would end the event loop with either of them; as this ``Exception`` they travel
    through the task groups, and the scheduler raises the original once all has stopped.
    """
