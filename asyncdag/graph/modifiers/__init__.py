"""The function modifiers' wing of the graph builder: what decorators record, and the nodes
they turn a function into (Hamilton's resolve -> create -> expand -> transform -> decorate).
"""
