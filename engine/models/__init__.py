"""Types that cross layers: workflow and activity inputs and outputs, the job model, queue
names and search attributes. Pure data (pydantic and ``temporalio.common``), no I/O, so the
API, services, workflow code and activities can all import them."""
